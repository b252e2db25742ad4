"""Create, on the emulator, every resource the app expects on AWS.

What the app's decorators declare (the S3 notification prefix, the SQS queue,
the EventBridge patterns) is read from the Chalice app itself, so the local
wiring cannot drift from what `chalice deploy` creates.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from chalice.app import Chalice, CloudWatchEventConfig, S3EventConfig, SQSEventConfig

ACCOUNT = "123456789012"
LOCAL_ACCESS_KEY = "docpipe-local"
LOCAL_SECRET_KEY = "docpipe-local"  # noqa: S105 - the local stack's own credentials (the emulator checks POST signatures)
DEFAULT_DEMO_PASSWORD = "Docpipe-demo-2026"  # noqa: S105 - local demo user, overridable
DEFAULT_ADMIN_PASSWORD = "Docpipe-admin-2026"  # noqa: S105 - local demo user, overridable
EMULATOR_SEED = 20260101


@dataclass
class StackNames:
    region: str = "us-east-1"
    bucket: str = "docpipe-uploads"
    table: str = "docpipe"
    records_queue: str = "docpipe-records"
    notifications_queue: str = "docpipe-s3-notifications"
    backfill_queue: str = "docpipe-backfill"
    backfill_machine: str = "docpipe-backfill"
    backfill_visibility_timeout: int = 960  # at least the backfill consumer's 900 s timeout
    web_origins: tuple[str, ...] = ("http://127.0.0.1:8000", "http://localhost:8000")
    visibility_timeout: int = 120
    max_receive_count: int = 3
    demo_user: str = "demo"
    demo_password: str = DEFAULT_DEMO_PASSWORD
    admin_user: str = "admin"
    admin_password: str = DEFAULT_ADMIN_PASSWORD


@dataclass
class Stack:
    """What provisioning created: everything the app, pump and gateway need."""

    endpoint: str
    names: StackNames
    user_pool_id: str = ""
    client_id: str = ""
    cursor_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    cursor_secret_arn: str = ""  # the key in the emulator's Secrets Manager, read at run time as on AWS
    queues: dict[str, str] = field(default_factory=dict)  # name -> url
    rule_queues: dict[str, str] = field(default_factory=dict)  # handler name -> queue url
    user_subs: dict[str, str] = field(default_factory=dict)  # username -> Cognito sub
    backfill_state_machine: str = ""

    @property
    def cognito_issuer(self) -> str:
        return f"https://cognito-idp.{self.names.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.user_pool_id}/.well-known/jwks.json"

    def app_environment(self) -> dict[str, str]:
        """The stage environment variables the Lambda functions would get."""
        n = self.names
        return {
            "AWS_REGION": n.region,
            "AWS_DEFAULT_REGION": n.region,
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
            "DOCPIPE_AWS_ENDPOINT": self.endpoint,
            "DOCPIPE_BUCKET": n.bucket,
            "DOCPIPE_TABLE": n.table,
            "DOCPIPE_RECORDS_QUEUE": n.records_queue,
            "DOCPIPE_BACKFILL_QUEUE": n.backfill_queue,
            "DOCPIPE_BACKFILL_STATE_MACHINE": self.backfill_state_machine,
            "DOCPIPE_USER_POOL_ID": self.user_pool_id,
            "DOCPIPE_USER_POOL_ARN": f"arn:aws:cognito-idp:{n.region}:{ACCOUNT}:userpool/{self.user_pool_id}",
            "DOCPIPE_CLIENT_ID": self.client_id,
            "DOCPIPE_COGNITO_ENDPOINT": self.endpoint,
            "DOCPIPE_CURSOR_SECRET_ARN": self.cursor_secret_arn,
            # The pump, like the packaged template's SQS mapping, honours batchItemFailures.
            "DOCPIPE_REPORTS_BATCH_ITEM_FAILURES": "1",
        }


def clients(endpoint: str, region: str, pool: int = 10) -> dict[str, Any]:
    """Clients of the emulator; `pool`: connections kept per client (one per thread that shares it)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY,
        aws_secret_access_key=LOCAL_SECRET_KEY,
        region_name=region,
    )
    names = ("s3", "sqs", "dynamodb", "events", "cognito-idp", "secretsmanager", "stepfunctions")
    config = Config(max_pool_connections=pool)
    return {name: session.client(name, endpoint_url=endpoint, config=config) for name in names}


def create_table(ddb: Any, table: str) -> None:
    """The table as infra/docpipe.yaml declares it (tests/deploy/test_infra.py holds the two together)."""
    from chalicelib.aws.table import CANDIDATE_FIELDS, LISTED

    def gsi(name: str, pk: str, sk: str, include: tuple[str, ...] = ()) -> dict[str, Any]:
        projection: dict[str, Any] = {"ProjectionType": "KEYS_ONLY"}
        if include:
            projection = {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(include)}
        return {
            "IndexName": name,
            "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}],
            "Projection": projection,
        }

    attrs = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk"]
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attrs],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            gsi("by_owner", "gsi1pk", "gsi1sk", LISTED),
            gsi("all_docs", "gsi2pk", "gsi2sk", LISTED),
            gsi("by_size", "gsi3pk", "gsi3sk", CANDIDATE_FIELDS),
            gsi("by_deadline", "gsi4pk", "gsi4sk"),
        ],
    )


def create_queue(sqs: Any, name: str, visibility_timeout: int, max_receive_count: int) -> tuple[str, str]:
    """A queue with its DLQ and redrive policy; returns (url, arn)."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq_url)
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": redrive},
    )["QueueUrl"]
    return url, queue_arn(sqs, url)


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _allow(sqs: Any, url: str, arn: str, service: str, source_arn: str) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})


def provision(endpoint: str, app: Chalice, names: StackNames | None = None) -> Stack:
    names = names or StackNames()
    stack = Stack(endpoint=endpoint, names=names)
    aws = clients(endpoint, names.region)
    _storage_and_queues(aws, app, stack)
    create_table(aws["dynamodb"], names.table)
    _rules(aws, app, stack)
    _backfill(aws, stack)
    _cognito(aws["cognito-idp"], stack)
    stack.cursor_secret_arn = aws["secretsmanager"].create_secret(
        Name=f"{names.table}/cursor-secret", SecretString=stack.cursor_secret
    )["ARN"]
    return stack


def _storage_and_queues(aws: dict[str, Any], app: Chalice, stack: Stack) -> None:
    names = stack.names
    s3, sqs = aws["s3"], aws["sqs"]
    s3.create_bucket(Bucket=names.bucket)
    s3.put_bucket_cors(
        Bucket=names.bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": list(names.web_origins),
                    "AllowedMethods": ["GET", "HEAD", "POST", "PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    url, _ = create_queue(sqs, names.records_queue, names.visibility_timeout, names.max_receive_count)
    stack.queues[names.records_queue] = url
    note_url, note_arn = create_queue(sqs, names.notifications_queue, names.visibility_timeout, names.max_receive_count)
    stack.queues[names.notifications_queue] = note_url
    backfill_url, _ = create_queue(
        sqs, names.backfill_queue, names.backfill_visibility_timeout, names.max_receive_count
    )
    stack.queues[names.backfill_queue] = backfill_url
    _allow(sqs, note_url, note_arn, "s3.amazonaws.com", f"arn:aws:s3:::{names.bucket}")
    configs = []
    for source in app.event_sources:
        if isinstance(source, S3EventConfig) and source.bucket == names.bucket:
            rules = [{"Name": "prefix", "Value": source.prefix}] if source.prefix else []
            if source.suffix:
                rules.append({"Name": "suffix", "Value": source.suffix})
            config: dict[str, Any] = {"Id": source.name, "QueueArn": note_arn, "Events": source.events}
            if rules:
                config["Filter"] = {"Key": {"FilterRules": rules}}
            configs.append(config)
        if isinstance(source, SQSEventConfig) and source.queue not in stack.queues:
            raise RuntimeError(f"the app consumes an unknown queue {source.queue!r}")
    notification: dict[str, Any] = {"QueueConfigurations": configs}
    if any(_is_s3_rule(s) for s in app.event_sources):
        notification["EventBridgeConfiguration"] = {}
    s3.put_bucket_notification_configuration(Bucket=names.bucket, NotificationConfiguration=notification)
    # S3 announces a new notification target with a test event; drop it now.
    sqs.purge_queue(QueueUrl=note_url)


def _is_s3_rule(source: Any) -> bool:
    return isinstance(source, CloudWatchEventConfig) and "aws.s3" in source.event_pattern.get("source", [])


def _rules(aws: dict[str, Any], app: Chalice, stack: Stack) -> None:
    """One EventBridge rule per on_cw_event handler, targeting a queue the pump drains."""
    events, sqs = aws["events"], aws["sqs"]
    for source in app.event_sources:
        if not isinstance(source, CloudWatchEventConfig):
            continue
        rule = f"docpipe-{source.name}"
        url, arn = create_queue(
            sqs, f"docpipe-rule-{source.name}", stack.names.visibility_timeout, stack.names.max_receive_count
        )
        rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps(source.event_pattern), State="ENABLED")["RuleArn"]
        _allow(sqs, url, arn, "events.amazonaws.com", rule_arn)
        events.put_targets(Rule=rule, Targets=[{"Id": "pump", "Arn": arn}])
        stack.rule_queues[source.name] = url


def seed_emulator(endpoint: str, seed: int = EMULATOR_SEED) -> None:
    """Make the emulator's ids repeatable from here on: the same pool, app client and user `sub`s on
    every start, so the demo user stays the same user across `make run` restarts (and tokens issued
    before a restart still verify after it)."""
    import urllib.request

    request = urllib.request.Request(f"{endpoint}/moto-api/seed?a={seed}", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def _backfill(aws: dict[str, Any], stack: Stack) -> None:
    """The backfill state machine, from infra/docpipe.yaml's definition (its queue is made with the others)."""
    from local import backfill_machine

    stack.backfill_state_machine = backfill_machine.create(
        aws["stepfunctions"], stack.endpoint, stack.names.backfill_machine
    )


def _cognito(idp: Any, stack: Stack) -> None:
    names = stack.names
    seed_emulator(stack.endpoint)
    pool = idp.create_user_pool(
        PoolName="docpipe-users",
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": False,
            }
        },
        UsernameConfiguration={"CaseSensitive": False},
    )["UserPool"]
    stack.user_pool_id = pool["Id"]
    stack.client_id = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="docpipe-web",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        # the web app signs in through the hosted UI (served locally by the gateway), as in infra/docpipe.yaml
        SupportedIdentityProviders=["COGNITO"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email", "profile"],
        CallbackURLs=[f"{origin}/" for origin in names.web_origins],
        LogoutURLs=[f"{origin}/" for origin in names.web_origins],
        IdTokenValidity=60,
        AccessTokenValidity=60,
        TokenValidityUnits={"IdToken": "minutes", "AccessToken": "minutes"},
    )["UserPoolClient"]["ClientId"]
    idp.create_group(UserPoolId=pool["Id"], GroupName="admins", Description="docpipe administrators")
    stack.user_subs[names.demo_user] = create_user(idp, pool["Id"], names.demo_user, names.demo_password)
    stack.user_subs[names.admin_user] = create_user(
        idp, pool["Id"], names.admin_user, names.admin_password, groups=("admins",)
    )


def create_user(idp: Any, pool_id: str, username: str, password: str, groups: tuple[str, ...] = ()) -> str:
    """Create a confirmed user; returns its `sub`."""
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": f"{username}@docpipe.local"}],
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    attrs = idp.admin_get_user(UserPoolId=pool_id, Username=username)["UserAttributes"]
    return next(str(a["Value"]) for a in attrs if a["Name"] == "sub")


def login(idp: Any, client_id: str, username: str, password: str) -> dict[str, str]:
    """USER_PASSWORD_AUTH, as the CLI and tests use it; returns the AuthenticationResult."""
    resp = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return dict(resp["AuthenticationResult"])
