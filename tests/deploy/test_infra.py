"""The infra template passes cfn-lint and deploys into the emulator's CloudFormation as declared."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deploy import calls, configure, package, policies
from deploy.templates import INFRA_TEMPLATE, REPO, load_template
from local.deploy_emulator import null_path
from tests.deploy.conftest import EMULATOR_SKIPS, STAGE, clients, tool


def test_infra_template_passes_cfn_lint():
    proc = subprocess.run([tool("cfn-lint"), str(INFRA_TEMPLATE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_infra_template_holds_no_null_which_cloudformation_would_refuse():
    assert null_path(load_template()) is None


def test_the_emulator_refuses_a_template_with_a_null_as_cloudformation_does(emulator):
    cfn = clients(emulator.endpoint, "cloudformation")["cloudformation"]
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "docpipe-null", "RedrivePolicy": None}}
    body = json.dumps({"Resources": {"Queue": queue}})
    with pytest.raises(
        ClientError, match=r"\[/Resources/Queue/Properties/RedrivePolicy\] 'null' values are not allowed"
    ):
        cfn.create_stack(StackName="docpipe-null", TemplateBody=body)
    with pytest.raises(ClientError, match="'null' values are not allowed"):
        cfn.create_change_set(StackName="docpipe-null", ChangeSetName="c1", TemplateBody=body, ChangeSetType="CREATE")


def test_only_the_documented_resource_types_are_left_out_of_the_emulator_stack(infra_stack):
    assert infra_stack["status"] == "CREATE_COMPLETE"
    types = {v["Type"] for v in load_template()["Resources"].values()}
    created = {r["ResourceType"] for r in infra_stack["resources"]} - {""}
    assert types - created == EMULATOR_SKIPS & types
    assert {"AWS::Cognito::UserPool", "AWS::SecretsManager::Secret", "AWS::CloudWatch::Alarm"} <= created


def test_every_output_is_in_the_example_outputs_and_every_environment_output_exists(infra_stack):
    declared = set(load_template()["Outputs"])
    assert declared == set(infra_stack["outputs"])
    assert set(package.example_outputs("x")) == declared, "deploy/outputs.example.json is out of date"
    assert set(configure.ENVIRONMENT) <= declared


def test_each_app_function_has_a_log_group_and_errors_and_throttles_alarms_named_after_it(infra_stack):
    functions = sorted(calls.handler_kinds(REPO / "app.py"))
    assert sorted(infra_stack["outputs"]["FunctionNames"].split(",")) == functions
    res = policies.Resources.from_outputs(infra_stack["outputs"])
    logs, cloudwatch = infra_stack["aws"]["logs"], infra_stack["aws"]["cloudwatch"]
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]}
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"docpipe-{STAGE}")["MetricAlarms"]
    watched = {(a["MetricName"], d["Value"]) for a in alarms if a["Namespace"] == "AWS/Lambda" for d in a["Dimensions"]}
    topic = infra_stack["outputs"]["AlarmTopicArn"]
    for function in functions:
        name = res.function_name(function)
        assert groups[f"/aws/lambda/{name}"]["retentionInDays"] == 30
        assert {("Errors", name), ("Throttles", name)} <= watched
        # the function's role may write exactly there
        log_statement = policies.render(function, res)["Statement"][0]
        assert log_statement["Resource"] == [res.log_group(function)]
        assert f":log-group:/aws/lambda/{name}:" in res.log_group(function)
    assert all(a["AlarmActions"] == [topic] for a in alarms if a["Namespace"] == "AWS/Lambda")


def test_the_user_pool_survives_a_stack_delete_and_a_replacing_update():
    pool = load_template()["Resources"]["UserPool"]
    assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_cloudwatch_can_publish_to_the_alarm_topic():
    # CloudWatch cannot use the AWS-managed alias/aws/sns key; the topic is not encrypted with it.
    topic = load_template()["Resources"]["AlarmTopic"]["Properties"]
    assert "KmsMasterKeyId" not in topic


def test_docpipe_events_a_function_consumes_are_forwarded_to_the_default_bus(infra_stack):
    """Chalice puts every rule on the default bus; docpipe publishes its own events on the stage's bus."""
    events = infra_stack["aws"]["events"]
    bus = infra_stack["outputs"]["EventBusName"]
    rules = events.list_rules(EventBusName=bus)["Rules"]
    forwarded = [r for r in rules if r["Name"] == f"docpipe-{STAGE}-forward-reprocess"]
    assert forwarded, rules
    (target,) = events.list_targets_by_rule(Rule=forwarded[0]["Name"], EventBusName=bus)["Targets"]
    assert target["Arn"].endswith(":event-bus/default") and target["RoleArn"]
    assert target["DeadLetterConfig"]["Arn"] == infra_stack["outputs"]["EventsDeadLetterQueueArn"]
    # Observe the default bus: an event each forwarded pattern matches, put on the stage's bus, arrives there.
    sqs = infra_stack["aws"]["sqs"]
    url = sqs.create_queue(QueueName="forward-observer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    patterns: dict[str, dict[str, Any]] = {
        f: dict(p) for f, p in calls.event_patterns(REPO / "app.py").items() if configure.forwarded(p)
    }
    assert patterns, "app.py has no rule on docpipe's own events: nothing to forward"
    for function, pattern in patterns.items():
        events.put_rule(Name=f"observe-{function}", EventPattern=json.dumps(pattern))
        events.put_targets(Rule=f"observe-{function}", Targets=[{"Id": "q", "Arn": arn}])
        detail_type = (pattern.get("detail-type") or ["Test"])[0]
        events.put_events(
            Entries=[{"Source": pattern["source"][0], "DetailType": detail_type, "Detail": "{}", "EventBusName": bus}]
        )
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
        assert got and json.loads(got[0]["Body"])["detail-type"] == detail_type, f"{function} would never run"
        sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        events.remove_targets(Rule=f"observe-{function}", Ids=["q"])
        events.delete_rule(Name=f"observe-{function}")


def test_the_cursor_secret_is_generated_by_secrets_manager(infra_stack):
    sm = infra_stack["aws"]["secretsmanager"]
    value = sm.get_secret_value(SecretId=infra_stack["outputs"]["CursorSecretArn"])["SecretString"]
    assert len(value) == 48 and value.isalnum()


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
