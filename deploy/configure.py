"""Turn an infra stack's outputs into a deployable Chalice stage.

    python -m deploy.configure --stage prod --stack docpipe-prod-infra [--xray]
    python -m deploy.configure --stage prod --outputs outputs.json      (offline)

Writes, for that stage, all files or none:
- `.chalice/config.json` stages.<stage>: environment variables naming the
  stack's resources (`ENVIRONMENT`: output -> variable), and one
  `iam_policy_file` per function;
- `.chalice/policy-<stage>-<function>.json`: least-privilege policies
  (`deploy.policies`), checked against the code by the tests;
- `artifacts/<stage>/app-overrides.json`: the `chalice package
  --merge-template` file for what Chalice cannot express (function names,
  SQS ReportBatchItemFailures, EventBridge rule names/DLQs/retries, async
  on-failure destinations, API Gateway 401/403 bodies with CORS headers,
  X-Ray permissions).

Everything outside what Chalice manages lives in the infra stack, on both
deploy paths: resources the code uses reach it as outputs mapped here to
environment variables and policy resources; what watches a function (log
group, alarms) is named after the function, whose name is fixed
(`policies.Resources.function_name`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib import contracts
from deploy import calls, policies
from deploy.templates import REPO

UPLOAD_EVENTS = "eventbridge"
MIN_VISIBILITY_FACTOR = 6
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
REPORTS_BATCH_ITEM_FAILURES = "DOCPIPE_REPORTS_BATCH_ITEM_FAILURES"
# SQS consumers that report batch item failures where the mapping allows it. on_backfill takes one message
# at a time and raises when it fails, which redelivers that message on both paths: it has nothing to report.
REPORTING_CONSUMERS = frozenset({"on_records"})
EXAMPLE_OUTPUTS = REPO / "deploy" / "outputs.example.json"
# Lambda unpacks the deployment package into LAMBDA_TASK_ROOT, always /var/task; Chalice copies vendor/ there.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
TASK_ROOT = "/var/task"
# Infra stack output -> the environment variable that names it for the code (the deploy mechanism: a resource
# the code uses is added to infra/docpipe.yaml with an output, listed here, and granted in deploy/policies.py).
ENVIRONMENT = {
    "BucketName": "DOCPIPE_BUCKET",
    "TableName": "DOCPIPE_TABLE",
    "RecordsQueueName": "DOCPIPE_RECORDS_QUEUE",
    "EventBusName": "DOCPIPE_EVENT_BUS",
    "UserPoolId": "DOCPIPE_USER_POOL_ID",
    "UserPoolArn": "DOCPIPE_USER_POOL_ARN",
    "UserPoolClientId": "DOCPIPE_CLIENT_ID",
    "BackfillQueueName": "DOCPIPE_BACKFILL_QUEUE",
    "BackfillStateMachineArn": "DOCPIPE_BACKFILL_STATE_MACHINE",
}


class ConfigurationError(ValueError):
    pass


@dataclass(frozen=True)
class Stage:
    name: str
    outputs: Mapping[str, str]
    xray: bool = False
    reserve: bool = True
    arch: str = "x86_64"
    """Lambda architecture (x86_64 or arm64): the stage's lambda_architecture, the wheels and vendor/."""

    @property
    def resources(self) -> policies.Resources:
        return policies.Resources.from_outputs(self.outputs)

    def environment(self) -> dict[str, str]:
        o = self.outputs
        origins = o.get("WebOrigins", "")
        return {
            **{variable: o[output] for output, variable in ENVIRONMENT.items()},
            # The key itself is read from Secrets Manager at run time (chalicelib.aws.secrets), on both paths.
            "DOCPIPE_CURSOR_SECRET_ARN": o["CursorSecretArn"],
            "DOCPIPE_MAX_UPLOAD_BYTES": o.get("MaxUploadBytes", str(512 * 1024 * 1024)),
            "DOCPIPE_WEB_ORIGIN": origins.split(",")[0] if origins else "",
            "DOCPIPE_UPLOAD_EVENTS": UPLOAD_EVENTS,
            "DOCPIPE_LOG_JSON": "1",
            "DOCPIPE_STAGE": self.name,
            # The packaged libmagic and its database (deploy.vendor); libmagic reads MAGIC, and detection loads
            # the library by path so that a libmagic of the runtime image cannot be picked up instead.
            "MAGIC": f"{TASK_ROOT}/magic.mgc",
            "DOCPIPE_LIBMAGIC": f"{TASK_ROOT}/lib/libmagic.so.1",
        }


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


def check_functions(functions: list[str], outputs: Mapping[str, str]) -> None:
    """The infra stack keeps a log group and alarms for exactly the app's functions."""
    kept = {f for f in outputs.get("FunctionNames", "").split(",") if f}
    if kept != set(functions):
        raise ConfigurationError(
            f"the infra stack keeps logs and alarms for {sorted(kept)} but app.py has {sorted(functions)}: "
            "add the missing log group and alarms to infra/docpipe.yaml (and its FunctionNames output) and "
            "redeploy the infra stack"
        )


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


def forwarded(pattern: Mapping[str, Any]) -> bool:
    """Whether a rule's events are docpipe's own (published on the stage's bus, forwarded to the default bus
    by the infra stack) rather than AWS's or an outside producer's (published on the default bus)."""
    sources = pattern.get("source") or []
    return bool(sources) and not any(str(s).startswith(EXTERNAL_SOURCES) for s in sources)


@dataclass(frozen=True)
class Extras:
    """What one function needs beyond what `chalice deploy` creates: the template path writes it into the
    merge template (`merge_template`), the `chalice deploy` path applies it afterwards (`deploy.finish`)."""

    function: str
    name: str
    kind: str
    rule: str | None = None
    """The EventBridge rule's name (on_cw_event, schedule); its target gets `dead_letter` and EVENT_RETRIES."""
    dead_letter: str | None = None
    on_failure: str | None = None
    """Asynchronous invocations: ASYNC_RETRIES retries, then this SQS destination."""


def extras(stage: Stage, kinds: Mapping[str, set[str]]) -> list[Extras]:
    o, res = stage.outputs, stage.resources
    out = []
    for function, function_kinds in sorted(kinds.items()):
        kind = _kind(function_kinds)
        ruled = kind in ("on_cw_event", "schedule")
        out.append(
            Extras(
                function=function,
                name=res.function_name(function),
                kind=kind,
                rule=f"docpipe-{stage.name}-{function}" if ruled else None,
                dead_letter=o["EventsDeadLetterQueueArn"] if ruled else None,
                on_failure=o["AsyncFailuresQueueArn"] if function in policies.ASYNC_FUNCTIONS else None,
            )
        )
    return out


def merge_template(stage: Stage, kinds: Mapping[str, set[str]]) -> dict[str, Any]:
    """The --merge-template document for one stage."""
    resources: dict[str, Any] = {}
    for extra in extras(stage, kinds):
        logical = _logical_id(extra.function)
        # CloudFormation would name it docpipe-<stage>-OnUpload-<random>: the log group, the log permissions
        # and the alarms (infra stack) name the function as `chalice deploy` does.
        props: dict[str, Any] = {"FunctionName": extra.name}
        if extra.kind == "on_sqs_message" and extra.function in REPORTING_CONSUMERS:
            # The mapping reports batch item failures, and the function is told so (Settings): both or neither.
            props["Events"] = {
                f"{logical}SqsEventSource": {"Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}}
            }
            props["Environment"] = {"Variables": {REPORTS_BATCH_ITEM_FAILURES: "1"}}
        if extra.rule:
            # Every rule is on the default bus, as `chalice deploy` creates it (see `forwarded`).
            # Chalice writes CloudWatchEvent, a SAM event type without dead-letter queues: EventBridgeRule has them.
            event: dict[str, Any] = {"Properties": {"DeadLetterConfig": {"Arn": extra.dead_letter}}}
            event["Properties"]["RetryPolicy"] = EVENT_RETRIES
            if extra.kind == "on_cw_event":
                event["Type"] = "EventBridgeRule"
                event["Properties"]["RuleName"] = extra.rule
            else:
                event["Properties"]["Name"] = extra.rule
            props["Events"] = {f"{logical}Event": event}
        if extra.on_failure:
            props["EventInvokeConfig"] = {
                "MaximumRetryAttempts": ASYNC_RETRIES,
                "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": extra.on_failure}},
            }
        resources[logical] = {"Properties": props}
        if stage.xray:
            role = "ApiHandlerRole" if extra.function == policies.API else f"{logical}Role"
            resources[role] = {"Properties": {"ManagedPolicyArns": [XRAY_POLICY]}}
    if policies.API in kinds:
        origin = stage.environment()["DOCPIPE_WEB_ORIGIN"] or "*"
        resources["RestAPI"] = {
            "Properties": {"DefinitionBody": {"x-amazon-apigateway-gateway-responses": gateway_responses(origin)}}
        }
    return {"Resources": resources}


def stage_config(stage: Stage, functions: list[str]) -> dict[str, Any]:
    return {
        "api_gateway_stage": "api",
        "lambda_architecture": stage.arch,
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
    """Write the stage's config entry, policies and merge template (all or none); returns the files written."""
    config_path = project / ".chalice" / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    check_timeouts(config, stage.outputs)
    kinds = calls.handler_kinds(project / "app.py")
    functions = sorted(kinds)
    check_functions(functions, stage.outputs)
    files: dict[Path, Any] = {
        project / ".chalice" / f"policy-{stage.name}-{fn}.json": policies.render(fn, stage.resources)
        for fn in functions
    }
    config.setdefault("stages", {})[stage.name] = stage_config(stage, functions)
    files[config_path] = config
    files[project / "artifacts" / stage.name / "app-overrides.json"] = merge_template(stage, kinds)
    write_all({path: json.dumps(doc, indent=2) + "\n" for path, doc in files.items()})
    return [config_path, *(p for p in files if p != config_path)]


def write_all(contents: Mapping[Path, str]) -> None:
    """Write every file or none: each goes to a temporary file beside it first, then all are renamed."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in contents.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def example_outputs(stage: str) -> dict[str, str]:
    """The example infra outputs (deploy/outputs.example.json) for `stage`."""
    raw = json.loads(EXAMPLE_OUTPUTS.read_text(encoding="utf-8"))
    return {key: str(value).replace("${Stage}", stage) for key, value in raw.items()}


def add_stage_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """--stage and where the infra stack's outputs come from (--stack, or --outputs for a JSON file)."""
    parser.add_argument("--stage", required=True)
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument("--stack", help="name of the deployed infra stack (reads its outputs)")
    source.add_argument("--outputs", type=Path, help="JSON file of the infra stack's outputs")
    parser.add_argument("--region")


def load_outputs(stage: str, outputs: Path | None, stack: str | None, region: str | None) -> dict[str, str]:
    if stack:
        return stack_outputs(stack, region)
    if outputs:
        data: dict[str, Any] = json.loads(outputs.read_text(encoding="utf-8"))
        return {k: str(v) for k, v in data.items()}
    return example_outputs(stage)


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
    add_stage_arguments(parser)
    parser.add_argument("--xray", action="store_true", help="turn on X-Ray active tracing")
    parser.add_argument("--no-reserved", action="store_true", help="no reserved concurrency (new accounts)")
    parser.add_argument("--arch", choices=("x86_64", "arm64"), default="x86_64")
    parser.add_argument("--project", type=Path, default=REPO)
    args = parser.parse_args(argv)
    outputs = load_outputs(args.stage, args.outputs, args.stack, args.region)
    if outputs.get("Stage") != args.stage:
        print(f"the stack is for stage {outputs.get('Stage')!r}, not {args.stage!r}", file=sys.stderr)
        return 2
    try:
        written = configure(
            Stage(args.stage, outputs, xray=args.xray, reserve=not args.no_reserved, arch=args.arch), args.project
        )
    except (ConfigurationError, KeyError) as exc:
        print(f"cannot configure stage {args.stage}: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(args.project) if path.is_relative_to(args.project) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
