"""The infra template passes cfn-lint and deploys into the emulator's CloudFormation as declared."""

from __future__ import annotations

import json
import subprocess

from deploy.templates import INFRA_TEMPLATE, load_template
from tests.deploy.conftest import EMULATOR_CANNOT_CREATE, EMULATOR_SKIPS, tool


def test_infra_template_passes_cfn_lint():
    proc = subprocess.run([tool("cfn-lint"), str(INFRA_TEMPLATE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_only_the_documented_resource_types_are_left_out_of_the_emulator_stack(infra_stack):
    assert infra_stack["status"] == "CREATE_COMPLETE"
    types = {v["Type"] for v in load_template()["Resources"].values()}
    created = {r["ResourceType"] for r in infra_stack["resources"] if r.get("LogicalResourceId")}
    assert types - created == (EMULATOR_CANNOT_CREATE | EMULATOR_SKIPS) & types
    assert {"AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Events::EventBus"} <= created


def test_the_uploads_bucket_is_private_encrypted_versioned_and_sends_events_to_eventbridge(infra_stack):
    # moto's CloudFormation applies only BucketEncryption and Tags of a bucket: the rest is read from the template.
    s3, bucket = infra_stack["aws"]["s3"], infra_stack["outputs"]["BucketName"]
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    props = load_template()["Resources"]["UploadsBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["NotificationConfiguration"]["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}
    assert set(props["CorsConfiguration"]["CorsRules"][0]["AllowedMethods"]) >= {"GET", "POST", "PUT"}
    rules = props["LifecycleConfiguration"]["Rules"]
    tiering = {r["Prefix"]: r["Transitions"][0]["StorageClass"] for r in rules if "Transitions" in r}
    assert tiering == {"uploads/": "INTELLIGENT_TIERING", "renditions/": "INTELLIGENT_TIERING"}
    policy = load_template()["Resources"]["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Effect"] == "Deny" and policy["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_table_matches_the_local_stack_definition(infra_stack):
    from local.provision import create_table

    ddb = infra_stack["aws"]["dynamodb"]
    create_table(ddb, "docpipe-local-twin")
    try:
        deployed = ddb.describe_table(TableName=infra_stack["outputs"]["TableName"])["Table"]
        local = ddb.describe_table(TableName="docpipe-local-twin")["Table"]

        def shape(table):
            gsis = {
                g["IndexName"]: (
                    json.dumps(g["KeySchema"]),
                    g["Projection"]["ProjectionType"],
                    sorted(g["Projection"].get("NonKeyAttributes", [])),
                )
                for g in table["GlobalSecondaryIndexes"]
            }
            attrs = sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"])
            return json.dumps(table["KeySchema"]), attrs, gsis, table["BillingModeSummary"]["BillingMode"]

        assert shape(deployed) == shape(local)
    finally:
        ddb.delete_table(TableName="docpipe-local-twin")
    # moto's CloudFormation does not apply these table properties: read them from the template.
    props = load_template()["Resources"]["Table"]["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["TimeToLiveSpecification"]["Enabled"] is True


def test_the_records_queue_redrives_to_its_dlq_and_outlasts_six_consumer_timeouts(infra_stack):
    sqs = infra_stack["aws"]["sqs"]
    url = sqs.get_queue_url(QueueName=infra_stack["outputs"]["RecordsQueueName"])["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":docpipe-ci-records-dlq")
    config = json.loads((INFRA_TEMPLATE.parents[1] / ".chalice" / "config.json").read_text())
    consumer_timeout = config["lambda_functions"]["on_records"]["lambda_timeout"]
    assert int(attrs["VisibilityTimeout"]) >= 6 * consumer_timeout
