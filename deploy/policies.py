"""One least-privilege IAM policy per Lambda function, rendered for a stage.

`FUNCTION_ACTIONS` is the manifest: what each function's code calls. It must
equal what `deploy.calls` reads from the code (tests/deploy/test_policies.py),
so adding a boto3 call means adding its action here, with the resources it
may touch. `PLATFORM` lists what Lambda itself needs on the function's behalf
(logs, the SQS event source mapping, the async on-failure destination).
No policy grants a Scan, and no statement has a `*` resource except for the
actions in `NO_RESOURCE_TYPES`, which IAM can only grant on `*`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deploy.templates import table_indexes

API = "api_handler"

# Lambda function -> the IAM actions its code needs (must match deploy.calls).
_DOCUMENTS = frozenset(
    {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:Query",
    }
)
_OBJECTS = frozenset({"s3:GetObject", "s3:PutObject", "s3:DeleteObject"})
# the CSV fan-out: reads the table, sends row chunks (and continuations) to the records queue
_FAN_OUT = frozenset({"s3:GetObject", "sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"})

# deleting a document: the API marks it and queues purge steps on the records queue; on_records runs them
_DELETION = frozenset({"dynamodb:DeleteItem", "sqs:SendMessage", "sqs:GetQueueUrl"})

FUNCTION_ACTIONS: dict[str, frozenset[str]] = {
    # signs and checks page cursors with the key it reads from Secrets Manager (chalicelib.aws.secrets)
    # starts backfills (a planning message on the backfill queue) and stops their executions; deletes documents
    # (marks them, queues purge steps on the records queue)
    API: _DOCUMENTS
    | _OBJECTS
    | _DELETION
    | {
        "events:PutEvents",
        "secretsmanager:GetSecretValue",
        "sqs:SendMessage",
        "sqs:GetQueueUrl",
        "states:StopExecution",
    },
    "on_upload": _DOCUMENTS | _OBJECTS | _FAN_OUT | {"events:PutEvents"},
    "on_reprocess": _DOCUMENTS | _OBJECTS | _FAN_OUT | {"events:PutEvents"},
    # consumes row chunks; a continuation message makes it produce the next leg; publishes RecordsIngested;
    # deletes what it handled where the mapping cannot report batch item failures (aws.sqs.settle_batch);
    # runs the purge steps of deleted documents
    "on_records": _DOCUMENTS | _FAN_OUT | _DELETION | {"events:PutEvents", "sqs:DeleteMessage"},
    # stores each producer event once (a conditional put) and lists them from the GSIs
    "on_producer_event": frozenset({"dynamodb:PutItem", "dynamodb:Query"}),
    # the scheduled sweeper: overdue documents from the by_deadline index, retries as ReprocessRequested events
    "sweep": _DOCUMENTS | _DELETION | {"events:PutEvents"},
    # the backfill queue's consumer: ingest (as on_reprocess) for each item, the documents of a batch in one
    # BatchGetItem, parts counted in a transaction, the stale manifest written as a multipart upload, the
    # state machine started and its task tokens answered
    "on_backfill": _DOCUMENTS
    | _OBJECTS
    | _FAN_OUT
    | {
        "events:PutEvents",
        "dynamodb:BatchGetItem",
        "dynamodb:TransactWriteItems",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "states:StartExecution",
        "states:SendTaskSuccess",
    },
}
# Actions with no resource types in the Service Authorization Reference: IAM grants them only on "*". The task
# token (unguessable, issued per task) is what limits SendTaskSuccess to the tasks handed to this function.
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
NO_RESOURCE_TYPES = frozenset({"states:SendTaskSuccess"})

# Default resources of an action (resource keys, see `Resources.arns`).
ACTION_RESOURCES: dict[str, tuple[str, ...]] = {
    "dynamodb:GetItem": ("table",),
    "dynamodb:BatchGetItem": ("table",),
    "dynamodb:PutItem": ("table",),
    "dynamodb:UpdateItem": ("table",),
    "dynamodb:DeleteItem": ("table",),
    "dynamodb:BatchWriteItem": ("table",),
    "dynamodb:TransactWriteItems": ("table",),
    "dynamodb:ConditionCheckItem": ("table",),
    "dynamodb:Query": ("table", "table_indexes"),
    "s3:GetObject": ("uploads", "renditions"),
    "s3:PutObject": ("uploads", "renditions"),
    "s3:DeleteObject": ("uploads", "renditions"),
    "s3:AbortMultipartUpload": ("uploads", "renditions"),
    "s3:ListMultipartUploadParts": ("backfills",),
    "s3:ListBucket": ("bucket",),
    "sqs:SendMessage": ("records_queue",),
    "sqs:GetQueueUrl": ("records_queue",),
    "sqs:GetQueueAttributes": ("records_queue",),
    "sqs:DeleteMessage": ("records_queue",),
    "events:PutEvents": ("event_bus", "default_bus"),
    "secretsmanager:GetSecretValue": ("cursor_secret",),
    "states:StartExecution": ("backfill_machine",),
    "states:StopExecution": ("backfill_executions",),
    "states:SendTaskSuccess": ("any",),
}

# Narrower resources for one function: the pipeline reads uploads and writes renditions only.
FUNCTION_RESOURCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("on_upload", "s3:GetObject"): ("uploads",),
    ("on_upload", "s3:PutObject"): ("renditions",),
    ("on_upload", "s3:DeleteObject"): ("renditions",),
    ("on_reprocess", "s3:GetObject"): ("uploads",),
    ("on_reprocess", "s3:PutObject"): ("renditions",),
    ("on_reprocess", "s3:DeleteObject"): ("renditions",),
    ("on_records", "s3:GetObject"): ("uploads",),
    (API, "sqs:SendMessage"): ("records_queue", "backfill_queue"),
    (API, "sqs:GetQueueUrl"): ("records_queue", "backfill_queue"),
    # the backfill consumer: ingest's reads and renditions, and its own manifests under backfills/
    ("on_backfill", "s3:GetObject"): ("uploads", "backfills"),
    ("on_backfill", "s3:PutObject"): ("renditions", "backfills"),
    ("on_backfill", "s3:DeleteObject"): ("renditions", "backfills"),
    ("on_backfill", "s3:AbortMultipartUpload"): ("backfills",),
    ("on_backfill", "sqs:SendMessage"): ("records_queue", "backfill_queue"),
    ("on_backfill", "sqs:GetQueueUrl"): ("records_queue", "backfill_queue"),
}

# What Lambda does on the function's behalf (not calls in the code).
ASYNC_FUNCTIONS = frozenset({"on_upload", "on_producer_event", "on_reprocess"})
SQS_CONSUMERS = {"on_records": "records_queue", "on_backfill": "backfill_queue"}
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
SQS_CONSUMER_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
)


@dataclass(frozen=True)
class Resources:
    """Names and ARNs of one stage's infra stack (its CloudFormation outputs)."""

    stage: str
    region: str
    account: str
    bucket: str
    table: str
    records_queue_arn: str
    event_bus_arn: str
    async_failures_arn: str
    user_pool_arn: str
    cursor_secret_arn: str = ""
    backfill_queue_arn: str = ""
    backfill_machine_arn: str = ""
    indexes: tuple[str, ...] = field(default_factory=table_indexes)
    partition: str = "aws"

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, str]) -> Resources:
        return cls(
            stage=outputs["Stage"],
            region=outputs["Region"],
            account=outputs["AccountId"],
            bucket=outputs["BucketName"],
            table=outputs["TableName"],
            records_queue_arn=outputs["RecordsQueueArn"],
            event_bus_arn=outputs["EventBusArn"],
            async_failures_arn=outputs["AsyncFailuresQueueArn"],
            user_pool_arn=outputs.get("UserPoolArn", ""),
            cursor_secret_arn=outputs.get("CursorSecretArn", ""),
            backfill_queue_arn=outputs.get("BackfillQueueArn", ""),
            backfill_machine_arn=outputs.get("BackfillStateMachineArn", ""),
        )

    def function_name(self, function: str) -> str:
        return f"docpipe-{self.stage}" if function == API else f"docpipe-{self.stage}-{function}"

    def arns(self, key: str) -> list[str]:
        p, r, a = self.partition, self.region, self.account
        table = f"arn:{p}:dynamodb:{r}:{a}:table/{self.table}"
        known = {
            "table": [table],
            "table_indexes": [f"{table}/index/{i}" for i in self.indexes],
            "bucket": [f"arn:{p}:s3:::{self.bucket}"],
            "uploads": [f"arn:{p}:s3:::{self.bucket}/uploads/*"],
            "renditions": [f"arn:{p}:s3:::{self.bucket}/renditions/*"],
            "records_queue": [self.records_queue_arn],
            "event_bus": [self.event_bus_arn],
            "default_bus": [f"arn:{p}:events:{r}:{a}:event-bus/default"],
            "async_failures": [self.async_failures_arn],
            "user_pool": [self.user_pool_arn],
            "cursor_secret": [self.cursor_secret_arn],
            "backfill_queue": [self.backfill_queue_arn],
            "backfills": [f"arn:{p}:s3:::{self.bucket}/backfills/*"],
            "backfill_machine": [self.backfill_machine_arn],
            # a backfill's execution is named after its run: arn:...:execution:<state machine name>:<run id>
            "backfill_executions": [self.backfill_machine_arn.replace(":stateMachine:", ":execution:") + ":*"],
            "any": ["*"],
        }
        if key not in known:
            raise KeyError(f"unknown resource key {key!r}")
        return known[key]

    def log_group(self, function: str) -> str:
        p, r, a = self.partition, self.region, self.account
        return f"arn:{p}:logs:{r}:{a}:log-group:/aws/lambda/{self.function_name(function)}:*"


def grants(function: str) -> dict[str, tuple[str, ...]]:
    """Action -> resource keys for one function's code."""
    if function not in FUNCTION_ACTIONS:
        raise KeyError(f"no policy manifest for Lambda function {function!r}: add it to deploy/policies.py")
    out = {}
    for action in sorted(FUNCTION_ACTIONS[function]):
        keys = FUNCTION_RESOURCES.get((function, action)) or ACTION_RESOURCES.get(action)
        if not keys:
            raise KeyError(f"no resources declared for {action} (deploy/policies.py ACTION_RESOURCES)")
        out[action] = keys
    return out


def render(function: str, res: Resources) -> dict[str, Any]:
    """The IAM policy document for one function of one stage."""
    by_resources: dict[tuple[str, ...], list[str]] = {}
    for action, keys in grants(function).items():
        by_resources.setdefault(keys, []).append(action)
    statements: list[dict[str, Any]] = [
        {"Sid": "Logs", "Effect": "Allow", "Action": list(LOG_ACTIONS), "Resource": [res.log_group(function)]}
    ]
    for index, (keys, actions) in enumerate(sorted(by_resources.items())):
        arns = [arn for key in keys for arn in res.arns(key)]
        statements.append({"Sid": f"Code{index}", "Effect": "Allow", "Action": sorted(actions), "Resource": arns})
    if function in SQS_CONSUMERS:
        statements.append(
            {
                "Sid": "EventSourceMapping",
                "Effect": "Allow",
                "Action": list(SQS_CONSUMER_ACTIONS),
                "Resource": res.arns(SQS_CONSUMERS[function]),
            }
        )
    if function in ASYNC_FUNCTIONS:
        statements.append(
            {
                "Sid": "AsyncOnFailure",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": res.arns("async_failures"),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def granted_actions(policy: Mapping[str, Any]) -> set[str]:
    return {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def platform_actions(function: str) -> set[str]:
    extra = set(LOG_ACTIONS)
    if function in SQS_CONSUMERS:
        extra |= set(SQS_CONSUMER_ACTIONS)
    if function in ASYNC_FUNCTIONS:
        extra.add("sqs:SendMessage")
    return extra
