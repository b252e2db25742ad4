"""Turn an infra stack's outputs into a deployable Chalice stage.

    python -m deploy.configure --stage prod --stack docpipe-prod-infra [--xray]
    python -m deploy.configure --stage prod --outputs outputs.json      (offline)

Writes, for that stage:
- `.chalice/config.json` stages.<stage>: environment variables naming the
  stack's resources, and one `iam_policy_file` per function;
- `.chalice/policy-<stage>-<function>.json`: least-privilege policies
  (`deploy.policies`), checked against the code by the tests;
- `artifacts/<stage>/app-overrides.json`: the `chalice package
  --merge-template` file for what Chalice cannot express (SQS
  ReportBatchItemFailures, EventBridge rule names/DLQs/retries, async
  on-failure destinations, API Gateway 401/403 bodies with CORS headers,
  X-Ray permissions, per-function Errors/Throttles alarms).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib import contracts
from deploy import calls, policies
from deploy.templates import REPO

UPLOAD_EVENTS = "eventbridge"
MIN_VISIBILITY_FACTOR = 6
ESM_MAX_CONCURRENCY = 5
EVENT_RETRIES = {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}
ASYNC_RETRIES = 2
GATEWAY_RESPONSES = {
    "UNAUTHORIZED": (401, "unauthorized", "Unauthorized"),
    "ACCESS_DENIED": (403, "forbidden", "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "No such route"),
    "THROTTLED": (429, "throttled", "Too many requests"),
    "DEFAULT_4XX": (None, "bad_request", "The request was rejected"),
    "DEFAULT_5XX": (None, "internal", "Internal error"),
}
# Events from AWS services and outside producers arrive on the default bus; docpipe's own on its bus.
EXTERNAL_SOURCES = ("aws.", contracts.PRODUCER_SOURCE)
# Reserved concurrency: caps each function so a burst of uploads cannot starve the API or flood the table.
# New AWS accounts may have a total concurrency of 10, which allows no reservation at all: --no-reserved.
RESERVED_CONCURRENCY = {"on_upload": 20, "on_reprocess": 5, "on_producer_event": 5}
XRAY_POLICY = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"


class ConfigurationError(ValueError):
    pass


@dataclass(frozen=True)
class Stage:
    name: str
    outputs: Mapping[str, str]
    xray: bool = False
    reserve: bool = True

    @property
    def resources(self) -> policies.Resources:
        return policies.Resources.from_outputs(self.outputs)

    def environment(self) -> dict[str, str]:
        o = self.outputs
        origins = o.get("WebOrigins", "")
        return {
            "DOCPIPE_BUCKET": o["BucketName"],
            "DOCPIPE_TABLE": o["TableName"],
            "DOCPIPE_RECORDS_QUEUE": o["RecordsQueueName"],
            "DOCPIPE_EVENT_BUS": o["EventBusName"],
            "DOCPIPE_USER_POOL_ID": o["UserPoolId"],
            "DOCPIPE_USER_POOL_ARN": o["UserPoolArn"],
            "DOCPIPE_CLIENT_ID": o["UserPoolClientId"],
            "DOCPIPE_CURSOR_SECRET": secret_reference(o["CursorSecretArn"]),
            "DOCPIPE_MAX_UPLOAD_BYTES": o.get("MaxUploadBytes", str(512 * 1024 * 1024)),
            "DOCPIPE_WEB_ORIGIN": origins.split(",")[0] if origins else "",
            "DOCPIPE_UPLOAD_EVENTS": UPLOAD_EVENTS,
            "DOCPIPE_LOG_JSON": "1",
            "DOCPIPE_STAGE": self.name,
        }


def secret_reference(arn: str) -> str:
    """A CloudFormation dynamic reference: resolved when the app stack deploys, never stored in the repo."""
    return "{{resolve:secretsmanager:" + arn + ":SecretString}}"


def _logical_id(function: str) -> str:
    from chalice.utils import to_cfn_resource_name

    return "APIHandler" if function == policies.API else to_cfn_resource_name(function)


def _kind(kinds: set[str]) -> str:
    """How a function is packaged: an S3 trigger is received through EventBridge in CloudFormation."""
    usable = kinds - {"on_s3_event"}
    if not usable:
        raise ConfigurationError(
            "chalice package cannot emit on_s3_event to CloudFormation: register the handler with on_cw_event "
            "when DOCPIPE_UPLOAD_EVENTS=eventbridge (see docs/deploy.md)"
        )
    return sorted(usable)[0]


def check_timeouts(config: Mapping[str, Any], outputs: Mapping[str, str]) -> None:
    fns = config.get("lambda_functions", {})
    consumer = fns.get("on_records", {}).get("lambda_timeout", config.get("lambda_timeout", 60))
    visibility = int(outputs["RecordsVisibilityTimeout"])
    if visibility < MIN_VISIBILITY_FACTOR * int(consumer):
        raise ConfigurationError(
            f"records queue visibility timeout {visibility}s is below {MIN_VISIBILITY_FACTOR} x the on_records "
            f"timeout ({consumer}s): redeploy the infra stack with RecordsVisibilityTimeout >= "
            f"{MIN_VISIBILITY_FACTOR * int(consumer)}"
        )


def _alarm(stage: str, function_name: str, metric: str, topic: str) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": f"{function_name}-{metric.lower()}",
            "AlarmDescription": f"{metric} of {function_name} (docpipe {stage})",
            "Namespace": "AWS/Lambda",
            "MetricName": metric,
            "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [topic],
        },
    }


def gateway_responses(origin: str) -> dict[str, Any]:
    """API Gateway's own error responses (authorizer 401/403 ...) as docpipe JSON errors with CORS headers."""
    headers = {
        "gatewayresponse.header.Access-Control-Allow-Origin": f"'{origin}'",
        "gatewayresponse.header.Access-Control-Allow-Headers": "'Authorization,Content-Type'",
    }
    out: dict[str, Any] = {}
    for kind, (status, code, message) in GATEWAY_RESPONSES.items():
        response: dict[str, Any] = {
            "responseParameters": dict(headers),
            "responseTemplates": {"application/json": json.dumps({"code": code, "message": message})},
        }
        if status is not None:
            response["statusCode"] = str(status)
        out[kind] = response
    return out


def rule_bus(pattern: Mapping[str, Any], own_bus: str) -> str | None:
    """The bus a rule listens on: None (the default bus) for AWS and producer sources, else docpipe's bus."""
    sources = pattern.get("source") or []
    if not sources or any(str(s).startswith(EXTERNAL_SOURCES) for s in sources):
        return None
    return own_bus


def merge_template(
    stage: Stage, kinds: Mapping[str, set[str]], patterns: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The --merge-template document for one stage."""
    o = stage.outputs
    res = stage.resources
    resources: dict[str, Any] = {}
    for function, function_kinds in sorted(kinds.items()):
        logical = _logical_id(function)
        kind = _kind(function_kinds)
        props: dict[str, Any] = {}
        if kind == "on_sqs_message":
            props["Events"] = {
                f"{logical}SqsEventSource": {
                    "Properties": {
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        "ScalingConfig": {"MaximumConcurrency": ESM_MAX_CONCURRENCY},
                    }
                }
            }
        elif kind == "on_cw_event":
            rule: dict[str, Any] = {
                "RuleName": f"docpipe-{stage.name}-{function}",
                "DeadLetterConfig": {"Arn": o["EventsDeadLetterQueueArn"]},
                "RetryPolicy": dict(EVENT_RETRIES),
            }
            bus = rule_bus((patterns or {}).get(function, {}), o["EventBusName"])
            if bus:
                rule["EventBusName"] = bus
            props["Events"] = {f"{logical}Event": {"Type": "EventBridgeRule", "Properties": rule}}
        if function in policies.ASYNC_FUNCTIONS or kind == "on_cw_event":
            props["EventInvokeConfig"] = {
                "MaximumRetryAttempts": ASYNC_RETRIES,
                "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": o["AsyncFailuresQueueArn"]}},
            }
        if props:
            resources[logical] = {"Properties": props}
        if stage.xray:
            role = "ApiHandlerRole" if function == policies.API else f"{logical}Role"
            resources[role] = {"Properties": {"ManagedPolicyArns": [XRAY_POLICY]}}
        name = res.function_name(function)
        for metric in ("Errors", "Throttles"):
            resources[f"{logical}{metric}Alarm"] = _alarm(stage.name, name, metric, o["AlarmTopicArn"])
    if policies.API in kinds:
        origin = stage.environment()["DOCPIPE_WEB_ORIGIN"] or "*"
        resources["RestAPI"] = {
            "Properties": {"DefinitionBody": {"x-amazon-apigateway-gateway-responses": gateway_responses(origin)}}
        }
        # Chalice 1.34 names the API log group after "${ApiHandler}", a resource that does not exist.
        resources["ApiHandlerLogGroup"] = {"Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${APIHandler}"}}}
    return {"Resources": resources}


def stage_config(stage: Stage, functions: list[str]) -> dict[str, Any]:
    return {
        "api_gateway_stage": "api",
        "xray": stage.xray,
        "environment_variables": stage.environment(),
        "lambda_functions": {fn: _function_config(stage, fn) for fn in functions},
    }


def _function_config(stage: Stage, function: str) -> dict[str, Any]:
    out: dict[str, Any] = {"iam_policy_file": f"policy-{stage.name}-{function}.json"}
    if stage.reserve and function in RESERVED_CONCURRENCY:
        out["reserved_concurrency"] = RESERVED_CONCURRENCY[function]
    return out


def configure(stage: Stage, project: Path = REPO) -> list[Path]:
    """Write the stage's config entry, policies and merge template; returns the files written."""
    config_path = project / ".chalice" / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    check_timeouts(config, stage.outputs)
    kinds = calls.handler_kinds(project / "app.py")
    functions = sorted(kinds)
    written = []
    for fn in functions:
        path = project / ".chalice" / f"policy-{stage.name}-{fn}.json"
        path.write_text(json.dumps(policies.render(fn, stage.resources), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    config.setdefault("stages", {})[stage.name] = stage_config(stage, functions)
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    merge_path = project / "artifacts" / stage.name / "app-overrides.json"
    merge_path.parent.mkdir(parents=True, exist_ok=True)
    patterns = calls.event_patterns(project / "app.py")
    merge_path.write_text(json.dumps(merge_template(stage, kinds, patterns), indent=2) + "\n", encoding="utf-8")
    return [config_path, *written, merge_path]


def stack_outputs(stack: str, region: str | None) -> dict[str, str]:
    import boto3

    cfn = boto3.client("cloudformation", region_name=region)
    desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in desc.get("Parameters", [])}
    outputs.setdefault("WebOrigins", params.get("WebOrigins", ""))
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.configure", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="name of the deployed infra stack")
    source.add_argument("--outputs", type=Path, help="JSON file of the infra stack's outputs (offline)")
    parser.add_argument("--region")
    parser.add_argument("--xray", action="store_true", help="turn on X-Ray active tracing")
    parser.add_argument("--no-reserved", action="store_true", help="no reserved concurrency (new accounts)")
    parser.add_argument("--project", type=Path, default=REPO)
    args = parser.parse_args(argv)
    outputs = (
        json.loads(args.outputs.read_text(encoding="utf-8")) if args.outputs else stack_outputs(args.stack, args.region)
    )
    if outputs.get("Stage") != args.stage:
        print(f"the stack is for stage {outputs.get('Stage')!r}, not {args.stage!r}", file=sys.stderr)
        return 2
    try:
        written = configure(Stage(args.stage, outputs, xray=args.xray, reserve=not args.no_reserved), args.project)
    except (ConfigurationError, KeyError) as exc:
        print(f"cannot configure stage {args.stage}: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(args.project) if path.is_relative_to(args.project) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
