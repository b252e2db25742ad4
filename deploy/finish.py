"""After `chalice deploy`: what Chalice cannot express, applied to what it deployed.

    python -m deploy.finish --stage prod --stack docpipe-prod-infra [--project .]
    python -m deploy.finish --stage prod --outputs outputs.json

The packaged template carries these (deploy.configure.merge_template); on the
`chalice deploy` path they are applied here, from the same `configure.extras`:
- each EventBridge rule's target gets the events DLQ and a retry policy;
- asynchronously invoked functions retry twice, then send the event to the
  async-failures queue;
- API Gateway's own 401/403/404/429/4XX/5XX answers become docpipe JSON errors
  with CORS headers (and the stage is redeployed so they take effect);
- with --xray, each role gets the X-Ray write policy.
Everything else is the same on both paths by construction (function names,
logs and alarms in the infra stack, rules on the default bus, the consumer
settling its own batches where the mapping cannot report failures).

`chalice deploy` writes rule targets again on every run, dropping their DLQ:
run this after every `chalice deploy` (`make chalice-deploy` does).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from deploy import calls, configure, policies
from deploy.templates import REPO


def deployed_resources(project: Path, stage: str) -> dict[str, dict[str, Any]]:
    """Chalice's record of what it deployed for the stage, by resource name."""
    path = project / ".chalice" / "deployed" / f"{stage}.json"
    if not path.exists():
        raise configure.ConfigurationError(f"{path} does not exist: run `chalice deploy --stage {stage}` first")
    data = json.loads(path.read_text(encoding="utf-8"))
    return {r["name"]: r for r in data.get("resources", [])}


def finish(stage: configure.Stage, aws: dict[str, Any], project: Path = REPO) -> list[str]:
    """Apply the extras to the deployed stage; returns what was done, one line each."""
    deployed = deployed_resources(project, stage.name)
    kinds = calls.handler_kinds(project / "app.py")
    done = []
    for extra in configure.extras(stage, kinds):
        if extra.rule:
            rule = deployed.get(f"{extra.function}-event", {}).get("rule_name")
            if not rule:
                raise configure.ConfigurationError(f"chalice deployed no rule for {extra.function}")
            done.append(_rule_targets(aws["events"], rule, extra))
        if extra.on_failure:
            aws["lambda"].put_function_event_invoke_config(
                FunctionName=extra.name,
                MaximumRetryAttempts=configure.ASYNC_RETRIES,
                DestinationConfig={"OnFailure": {"Destination": extra.on_failure}},
            )
            done.append(f"{extra.name}: {configure.ASYNC_RETRIES} async retries, then {extra.on_failure}")
        role = deployed.get(f"{extra.function}_role", {}).get("role_name")
        if stage.xray and role:
            aws["iam"].attach_role_policy(RoleName=role, PolicyArn=configure.XRAY_POLICY)
            done.append(f"{role}: X-Ray write access")
    api = deployed.get("rest_api", {}).get("rest_api_id")
    if api and policies.API in kinds:
        done.extend(_gateway_responses(aws["apigateway"], api, stage, project))
    return done


def _rule_targets(events: Any, rule: str, extra: configure.Extras) -> str:
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    updated = [
        {**t, "DeadLetterConfig": {"Arn": extra.dead_letter}, "RetryPolicy": configure.EVENT_RETRIES} for t in targets
    ]
    failed = events.put_targets(Rule=rule, Targets=updated).get("FailedEntries") or []
    if failed:
        raise RuntimeError(f"EventBridge refused the targets of {rule}: {failed}")
    return f"{rule}: {len(updated)} target(s) with the events DLQ and {configure.EVENT_RETRIES}"


def _gateway_responses(apigateway: Any, api: str, stage: configure.Stage, project: Path) -> list[str]:
    origin = stage.environment()["DOCPIPE_WEB_ORIGIN"] or "*"
    done = []
    for kind, response in configure.gateway_responses(origin).items():
        kwargs: dict[str, Any] = {
            "restApiId": api,
            "responseType": kind,
            "responseParameters": response["responseParameters"],
            "responseTemplates": response["responseTemplates"],
        }
        if "statusCode" in response:
            kwargs["statusCode"] = response["statusCode"]
        apigateway.put_gateway_response(**kwargs)
        done.append(f"API {api}: {kind} answers as docpipe JSON with CORS for {origin}")
    config = json.loads((project / ".chalice" / "config.json").read_text(encoding="utf-8"))
    api_stage = config.get("api_gateway_stage", "api")
    apigateway.create_deployment(restApiId=api, stageName=api_stage, description="docpipe gateway responses")
    done.append(f"API {api}: stage {api_stage} redeployed")
    return done


def clients(region: str | None = None) -> dict[str, Any]:
    import boto3

    session = boto3.session.Session(region_name=region)
    return {name: session.client(name) for name in ("events", "lambda", "apigateway", "iam")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.finish", description=__doc__.splitlines()[0])
    configure.add_stage_arguments(parser)
    parser.add_argument("--xray", action="store_true", help="the stage was configured with --xray")
    parser.add_argument("--project", type=Path, default=REPO)
    args = parser.parse_args(argv)
    outputs = configure.load_outputs(args.stage, args.outputs, args.stack, args.region)
    stage = configure.Stage(args.stage, outputs, xray=args.xray)
    try:
        done = finish(stage, clients(args.region or outputs.get("Region")), args.project)
    except configure.ConfigurationError as exc:
        print(f"cannot finish stage {args.stage}: {exc}", file=sys.stderr)
        return 2
    for line in done:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
