"""Read a deployed stage back from AWS (or the emulator): what each function really got.

    python -m deploy.readback --stage prod --stack docpipe-prod-infra [--json]

For every function of app.py, by its fixed name: runtime, handler, memory,
timeout, architecture, environment, reserved concurrency, role policies, async
invoke config, log group, the rules that target it (pattern or schedule, bus,
DLQ, retries), its SQS mapping and who may invoke it; the REST API's
authorizers and gateway responses; and the backfill state machine (infra
stack): its status, type, definition and its role's trust and policies. Both deploy paths are read the same way, so
their results can be compared (tests/deploy/test_deploy_paths.py) and a real
deployment checked (`problems`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from deploy import calls, configure, policies
from deploy.templates import REPO


def _quiet(call: Any, *args: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import ClientError

    try:
        return call(*args, **kwargs)
    except ClientError as exc:
        missing = ("ResourceNotFoundException", "NotFoundException", "StateMachineDoesNotExist")
        if exc.response.get("Error", {}).get("Code") in missing:
            return None
        raise


def read_role(iam: Any, role_arn: str) -> dict[str, Any]:
    """A role's inline policy documents, its managed policies and the services that may assume it."""
    role = role_arn.rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    return {
        "policies": [
            iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=role)["PolicyNames"]
        ],
        "managed": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]),
        "trusted": sorted(str((s.get("Principal") or {}).get("Service")) for s in trust.get("Statement", [])),
    }


def read_function(aws: dict[str, Any], name: str) -> dict[str, Any]:
    lam = aws["lambda"]
    config = lam.get_function_configuration(FunctionName=name)
    arn = config["FunctionArn"]
    role = read_role(aws["iam"], config["Role"])
    concurrency = _quiet(lam.get_function_concurrency, FunctionName=name) or {}
    invoke = _quiet(lam.get_function_event_invoke_config, FunctionName=name) or {}
    group = f"/aws/lambda/{name}"
    groups = aws["logs"].describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    log = next((g for g in groups if g["logGroupName"] == group), None)
    mappings = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    permission = _quiet(lam.get_policy, FunctionName=name)
    statements = json.loads(permission["Policy"])["Statement"] if permission else []
    return {
        "arn": arn,
        "runtime": config.get("Runtime"),
        "handler": config.get("Handler"),
        "memory": config.get("MemorySize"),
        "timeout": config.get("Timeout"),
        "architectures": config.get("Architectures", ["x86_64"]),
        "tracing": (config.get("TracingConfig") or {}).get("Mode", "PassThrough"),
        "environment": (config.get("Environment") or {}).get("Variables", {}),
        "reserved_concurrency": concurrency.get("ReservedConcurrentExecutions"),
        "role_policies": role["policies"],
        "managed_policies": role["managed"],
        "async": {
            "retries": invoke.get("MaximumRetryAttempts"),
            "on_failure": ((invoke.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
        },
        "log_group": {"exists": log is not None, "retention": (log or {}).get("retentionInDays")},
        "rules": read_rules(aws["events"], arn),
        "mappings": [
            {
                "source": m["EventSourceArn"],
                "batch_size": m.get("BatchSize"),
                "max_concurrency": (m.get("ScalingConfig") or {}).get("MaximumConcurrency"),
                "reports_failures": "ReportBatchItemFailures" in (m.get("FunctionResponseTypes") or []),
            }
            for m in mappings
        ],
        "invokers": sorted({str((s.get("Principal") or {}).get("Service", s.get("Principal"))) for s in statements}),
    }


def read_rules(events: Any, function_arn: str) -> list[dict[str, Any]]:
    """The rules of the default bus that target the function."""
    out = []
    for rule in events.list_rules(EventBusName="default")["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName="default")["Targets"]
        for target in targets:
            if target["Arn"] != function_arn:
                continue
            out.append(
                {
                    "bus": rule.get("EventBusName", "default"),
                    "pattern": json.loads(rule["EventPattern"]) if rule.get("EventPattern") else None,
                    "schedule": rule.get("ScheduleExpression"),
                    "dead_letter": (target.get("DeadLetterConfig") or {}).get("Arn"),
                    "retry": target.get("RetryPolicy"),
                }
            )
    return out


def read_api(apigateway: Any, api_id: str) -> dict[str, Any]:
    api = apigateway.get_rest_api(restApiId=api_id)
    responses = {r["responseType"]: r for r in apigateway.get_gateway_responses(restApiId=api["id"]).get("items", [])}
    authorizers = apigateway.get_authorizers(restApiId=api["id"]).get("items", [])
    return {
        "id": api["id"],
        "authorizers": sorted((a["type"], tuple(a.get("providerARNs") or ())) for a in authorizers),
        "gateway_responses": {
            kind: {
                "status": r.get("statusCode"),
                "templates": r.get("responseTemplates"),
                "headers": r.get("responseParameters"),
            }
            for kind, r in responses.items()
        },
        "stages": sorted(s["stageName"] for s in apigateway.get_stages(restApiId=api["id"]).get("item", [])),
    }


def read_state_machine(aws: dict[str, Any], arn: str) -> dict[str, Any] | None:
    """The backfill state machine as deployed (None when there is none): what it runs, and with which rights."""
    described = _quiet(aws["stepfunctions"].describe_state_machine, stateMachineArn=arn)
    if described is None:
        return None
    return {
        "arn": described["stateMachineArn"],
        "status": described.get("status"),
        "type": described.get("type"),
        "definition": json.loads(described["definition"]),
        "role": read_role(aws["iam"], described["roleArn"]),
    }


def read_stage(aws: dict[str, Any], stage: configure.Stage, api_id: str | None) -> dict[str, Any]:
    """The stage's functions, the backfill state machine and, given its id (`api_id_of`), its REST API."""
    functions = sorted(calls.handler_kinds(REPO / "app.py"))
    res = stage.resources
    machine = stage.outputs.get("BackfillStateMachineArn")
    return {
        "functions": {fn: read_function(aws, res.function_name(fn)) for fn in functions},
        "backfill": read_state_machine(aws, machine) if machine else None,
        "api": read_api(aws["apigateway"], api_id) if api_id else None,
    }


def api_id_of(aws: dict[str, Any], stage: str, project: Path = REPO) -> str | None:
    """The REST API of a stage: the app stack's RestAPIId output (template path), else what
    `chalice deploy` recorded in .chalice/deployed/<stage>.json."""
    from botocore.exceptions import ClientError

    try:
        stack = aws["cloudformation"].describe_stacks(StackName=f"docpipe-{stage}")["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if outputs.get("RestAPIId"):
            return outputs["RestAPIId"]
    except ClientError:
        pass
    recorded = project / ".chalice" / "deployed" / f"{stage}.json"
    if recorded.exists():
        resources = json.loads(recorded.read_text(encoding="utf-8")).get("resources", [])
        return next((r["rest_api_id"] for r in resources if r.get("resource_type") == "rest_api"), None)
    return None


def problems(readback: dict[str, Any], stage: configure.Stage) -> list[str]:
    """What a working docpipe stage must have and this one lacks (the same on both paths)."""
    out = []
    o = stage.outputs
    extras = {e.function: e for e in configure.extras(stage, calls.handler_kinds(REPO / "app.py"))}
    for function, f in readback["functions"].items():
        where = f"{stage.resources.function_name(function)}"
        if f["runtime"] != "python3.13":
            out.append(f"{where}: runtime {f['runtime']}, not python3.13")
        if any("{{resolve:" in str(v) for v in f["environment"].values()):
            out.append(f"{where}: an unresolved {{{{resolve:...}}}} in its environment")
        if "DOCPIPE_CURSOR_SECRET" in f["environment"]:
            out.append(f"{where}: the cursor key is in its configuration (read it from Secrets Manager)")
        if f["environment"].get("MAGIC") != f"{configure.TASK_ROOT}/magic.mgc":
            out.append(f"{where}: MAGIC does not name the packaged database")
        if not f["log_group"]["exists"]:
            out.append(f"{where}: no log group /aws/lambda/{where}")
        if not _may_write_logs(f["role_policies"], stage.resources.log_group(function)):
            out.append(f"{where}: its role may not write to /aws/lambda/{where}")
        out.extend(_rule_problems(where, f["rules"], extras.get(function), o))
        if function in policies.ASYNC_FUNCTIONS and f["async"]["on_failure"] != o["AsyncFailuresQueueArn"]:
            out.append(f"{where}: failed async invocations go nowhere")
        if function in policies.SQS_CONSUMERS and not f["mappings"]:
            out.append(f"{where}: no SQS mapping feeds it")
        for mapping in f["mappings"]:
            reported = f["environment"].get(configure.REPORTS_BATCH_ITEM_FAILURES) == "1"
            if mapping["reports_failures"] != reported:
                out.append(f"{where}: the mapping's ReportBatchItemFailures and the function's setting disagree")
            if not mapping["max_concurrency"]:
                out.append(f"{where}: the SQS mapping has no concurrency cap")
    api = readback.get("api")
    if api is not None:
        origin = stage.environment()["DOCPIPE_WEB_ORIGIN"] or "*"
        for kind in sorted(set(configure.gateway_responses(origin)) - set(api["gateway_responses"])):
            out.append(f"the API answers {kind} without docpipe's JSON and CORS headers")
    return out + state_machine_problems(readback.get("backfill"), stage)


def _rule_problems(where: str, rules: list[dict[str, Any]], extra: configure.Extras | None, o: Any) -> list[str]:
    """A function invoked by EventBridge needs a rule on the default bus (`read_rules` reads only that bus:
    a rule on another bus never sees AWS's or the forwarded events), each target a DLQ and retries."""
    out = []
    if extra is not None and extra.rule and not rules:
        out.append(f"{where}: no rule on the default bus invokes it")
    for rule in rules:
        if rule["dead_letter"] != o["EventsDeadLetterQueueArn"]:
            out.append(f"{where}: a rule's target has no dead-letter queue")
        if rule["retry"] != configure.EVENT_RETRIES:
            out.append(f"{where}: a rule's target has retry policy {rule['retry']}, not {configure.EVENT_RETRIES}")
    return out


def _may_write_logs(documents: list[dict[str, Any]], log_group_arn: str) -> bool:
    """Whether an Allow statement of the role's inline policies grants every log action on the function's group."""
    granted: set[str] = set()
    for document in documents:
        for s in document.get("Statement", []):
            actions = [s.get("Action", [])] if isinstance(s.get("Action"), str) else s.get("Action", [])
            resources = [s.get("Resource", [])] if isinstance(s.get("Resource"), str) else s.get("Resource", [])
            if s.get("Effect") == "Allow" and log_group_arn in resources:
                granted.update(actions)
    return set(policies.LOG_ACTIONS) <= granted


def state_machine_problems(machine: dict[str, Any] | None, stage: configure.Stage) -> list[str]:
    """A backfill state machine that is missing, not active, invokes Lambda directly, or whose role is broader
    than its own resources (a wildcard, a managed policy, another trusted service)."""
    where = f"docpipe-{stage.name}-backfill"
    if machine is None:
        return [f"{where}: no backfill state machine (BackfillStateMachineArn)"]
    out = []
    if machine["status"] != "ACTIVE" or machine["type"] != "STANDARD":
        out.append(f"{where}: {machine['status']} {machine['type']}, not an ACTIVE STANDARD state machine")
    if any(":lambda:" in r for r in task_resources(machine["definition"])):
        out.append(f"{where}: a task invokes Lambda (batches go through the backfill queue)")
    role = machine["role"]
    if role["trusted"] != ["states.amazonaws.com"] or role["managed"]:
        out.append(f"{where}: its role is assumable by {role['trusted']} or has managed policies {role['managed']}")
    for document in role["policies"]:
        for statement in document["Statement"]:
            actions, resources = _listed(statement.get("Action")), _listed(statement.get("Resource"))
            if any("*" in a for a in actions) or any(r == "*" or r.endswith(":*") for r in resources):
                out.append(f"{where}: its role grants {actions} on {resources} (a wildcard)")
    return out


def task_resources(value: Any) -> set[str]:
    """Every `Resource` of an ASL definition's Task states and item readers/writers, nested maps included."""
    if isinstance(value, dict):
        found = {value["Resource"]} if isinstance(value.get("Resource"), str) else set()
        return found | {r for v in value.values() for r in task_resources(v)}
    if isinstance(value, list):
        return {r for v in value for r in task_resources(v)}
    return set()


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def clients(region: str | None = None) -> dict[str, Any]:
    import boto3

    session = boto3.session.Session(region_name=region)
    return {
        n: session.client(n)
        for n in ("lambda", "iam", "logs", "events", "apigateway", "cloudformation", "stepfunctions")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.readback", description=__doc__.splitlines()[0])
    configure.add_stage_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print everything read")
    parser.add_argument("--project", type=Path, default=REPO, help="where .chalice/deployed/ is (chalice deploy)")
    args = parser.parse_args(argv)
    outputs = configure.load_outputs(args.stage, args.outputs, args.stack, args.region)
    stage = configure.Stage(args.stage, outputs)
    aws = clients(args.region or outputs.get("Region"))
    readback = read_stage(aws, stage, api_id_of(aws, args.stage, args.project))
    if args.json:
        print(json.dumps(readback, indent=2, default=str))
    found = problems(readback, stage)
    for line in found:
        print(f"PROBLEM {line}", file=sys.stderr)
    print(f"{len(readback['functions'])} functions read back, {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
