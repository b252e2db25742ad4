"""The backfill's resources in the infra stack: its queue, and a state machine role that is exactly enough."""

from __future__ import annotations

import json
from typing import Any

from deploy.readback import task_resources
from deploy.templates import REPO, load_template
from local.backfill_machine import definition as definition_text

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
# What each service integration in the definition needs of IAM (Step Functions' documented requirements).
NEEDS = {
    "arn:aws:states:::s3:listObjectsV2": {"s3:ListBucket"},
    "arn:aws:states:::s3:getObject": {"s3:GetObject"},
    "arn:aws:states:::s3:putObject": {
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
    },
    "arn:aws:states:::dynamodb:updateItem": {"dynamodb:UpdateItem"},
    "arn:aws:states:::sqs:sendMessage.waitForTaskToken": {"sqs:SendMessage"},
}
DISTRIBUTED_MAP = {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"}


def role_statements() -> list[dict[str, Any]]:
    role = RESOURCES["BackfillStateMachineRole"]["Properties"]
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def test_the_state_machine_role_grants_exactly_what_its_definition_uses() -> None:
    definition = json.loads(definition_text())
    needed = set().union(*(NEEDS[r] for r in task_resources(definition))) | DISTRIBUTED_MAP
    granted = {a for s in role_statements() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert granted == needed


def test_the_state_machine_role_names_its_resources_and_touches_only_backfill_items() -> None:
    for statement in role_statements():
        assert statement["Effect"] == "Allow"
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert resources and all(isinstance(r, dict) for r in resources)  # GetAtt/Sub of this stack's resources
    by_sid = {s["Sid"]: s for s in role_statements()}
    assert by_sid["CountOnTheRunRecord"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["BACKFILL#*"]}
    }
    assert by_sid["ListUploads"]["Condition"] == {"StringLike": {"s3:prefix": ["uploads/*"]}}
    assert RESOURCES["BackfillStateMachineRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0][
        "Principal"
    ] == {"Service": "states.amazonaws.com"}


def test_the_backfill_queue_outlasts_its_consumer_and_has_a_dead_letter_queue() -> None:
    config = json.loads((REPO / ".chalice" / "config.json").read_text(encoding="utf-8"))
    timeout = config["lambda_functions"]["on_backfill"]["lambda_timeout"]
    queue = RESOURCES["BackfillQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * timeout  # Lambda's advice for an SQS event source
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["BackfillDeadLetterQueue", "Arn"]}
    assert "BackfillDeadLetterAlarm" in RESOURCES and "BackfillFailedAlarm" in RESOURCES


def test_manifests_and_results_expire_and_live_outside_the_uploads_prefix() -> None:
    rules = RESOURCES["UploadsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"Id": "expire-backfill-manifests-and-results", "Status": "Enabled", "Prefix": "backfills/",
            "ExpirationInDays": 30} in rules  # fmt: skip
