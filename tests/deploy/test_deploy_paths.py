"""Both deploy paths run for real against the deploy emulator and are read back from it.

`chalice deploy` (stage ci) and the packaged SAM template through
`aws cloudformation package` + `aws cloudformation deploy` (stage cf, its own
infra stack), each as docs/deploy.md runs it. The emulator is moto patched where
it cannot take what these send (local.deploy_emulator: Chalice's Swagger 2.0,
the Serverless transform, ...). Read back (deploy.readback): runtime, handler,
environment, rules and their buses and DLQs, the SQS mapping, permissions, log
groups, the API's gateway responses; then the two are compared: they differ only
where docs/deploy.md says they do.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from deploy import calls, configure, finish, package, readback, vendor
from local import backfill_machine
from local.deploy_emulator import INVOCATIONS_LOG_GROUP
from tests.deploy.conftest import REGION, STAGE, clients, create_infra_stack, tool
from tests.deploy.test_backfill_infra import DISTRIBUTED_MAP, NEEDS

TEMPLATE_STAGE = "cf"
AWS_NAMES = ("lambda", "iam", "logs", "events", "apigateway", "cloudformation", "s3", "sqs", "stepfunctions")
# What may differ between the paths, with why nothing is lost (docs/deploy.md, "The two deploy paths").
DOCUMENTED_DIFFERENCES = {
    # The template path reports batch item failures on the mapping; after chalice deploy the consumer deletes
    # what it handled and fails the invocation for the rest (aws.sqs_batch.settle_batch).
    ("on_records", "environment", configure.REPORTS_BATCH_ITEM_FAILURES),
    ("on_records", "mappings", "reports_failures"),
}


def _cli_env(endpoint: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "docpipe-test",
        "AWS_SECRET_ACCESS_KEY": "docpipe-test",
        "AWS_DEFAULT_REGION": REGION,
    }


def _run(command: list[str], cwd: Path, endpoint: str) -> str:
    proc = subprocess.run(
        command, cwd=cwd, env=_cli_env(endpoint), capture_output=True, text=True, timeout=900, check=False
    )
    assert proc.returncode == 0, f"{' '.join(command)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def chalice_deployed(infra_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """configure, vendor, `chalice deploy`, deploy.finish: the `make chalice-deploy` steps, on the emulator."""
    endpoint = infra_stack["endpoint"]
    project = tmp_path_factory.mktemp("chalice-project")
    package.copy_sources(project)
    stage = configure.Stage(STAGE, infra_stack["outputs"])
    configure.configure(stage, project)
    shutil.copytree(package.vendor_cache("x86_64"), project / "vendor", ignore=shutil.ignore_patterns(vendor.STAMP))
    package.sync_cache(package.DEPENDENCY_CACHE, project / ".chalice" / "deployments")
    out = _run([tool("chalice"), "deploy", "--stage", STAGE], project, endpoint)
    package.sync_cache(project / ".chalice" / "deployments", package.DEPENDENCY_CACHE)
    aws = clients(endpoint, *AWS_NAMES)
    done = finish.finish(stage, aws, project)
    back = readback.read_stage(aws, stage, readback.api_id_of(aws, STAGE, project))
    return {"stage": stage, "project": project, "output": out, "finish": done, "aws": aws, "readback": back}


@pytest.fixture(scope="module")
def template_deployed(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Its own infra stack, `make package`, then aws cloudformation package + deploy, on the emulator."""
    endpoint = emulator.endpoint
    infra = create_infra_stack(endpoint, TEMPLATE_STAGE, CognitoDomainPrefix="docpipe-cf-example")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in infra["Outputs"]}
    stage = configure.Stage(TEMPLATE_STAGE, outputs)
    built = package.build(stage, dest=tmp_path_factory.mktemp("cf-artifacts") / TEMPLATE_STAGE)
    aws_cli = tool("aws")
    packaged = built.root / "packaged.yaml"
    bucket = outputs["DeploymentBucketName"]
    _run([aws_cli, "cloudformation", "package", "--template-file", str(built.template), "--s3-bucket", bucket,
          "--output-template-file", str(packaged)], built.root, endpoint)  # fmt: skip
    _run([aws_cli, "cloudformation", "deploy", "--stack-name", f"docpipe-{TEMPLATE_STAGE}", "--template-file",
          str(packaged), "--s3-bucket", bucket, "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
         built.root, endpoint)  # fmt: skip
    aws = clients(endpoint, *AWS_NAMES)
    back = readback.read_stage(aws, stage, readback.api_id_of(aws, TEMPLATE_STAGE, built.project))
    return {"stage": stage, "built": built, "aws": aws, "readback": back}


def test_chalice_deploy_reads_back_as_a_working_stage(chalice_deployed):
    stage, back = chalice_deployed["stage"], chalice_deployed["readback"]
    assert readback.problems(back, stage) == []
    expected_env = json.loads((chalice_deployed["project"] / ".chalice" / "config.json").read_text())["stages"][STAGE]
    for function, f in back["functions"].items():
        assert f["runtime"] == "python3.13", function
        assert f["handler"] == ("app.app" if function == "api_handler" else f"app.{function}")
        assert f["environment"] == expected_env["environment_variables"], function
        assert f["log_group"] == {"exists": True, "retention": 30}
    upload = back["functions"]["on_upload"]
    (rule,) = upload["rules"]
    assert rule["bus"] == "default" and rule["pattern"]["source"] == ["aws.s3"]
    assert rule["retry"] == configure.EVENT_RETRIES
    assert "events.amazonaws.com" in upload["invokers"]
    (mapping,) = back["functions"]["on_records"]["mappings"]
    assert (mapping["batch_size"], mapping["max_concurrency"], mapping["reports_failures"]) == (10, 5, False)
    assert configure.REPORTS_BATCH_ITEM_FAILURES not in back["functions"]["on_records"]["environment"]
    assert back["api"]["authorizers"] == [("COGNITO_USER_POOLS", (stage.outputs["UserPoolArn"],))]
    assert json.loads(back["api"]["gateway_responses"]["UNAUTHORIZED"]["templates"]["application/json"]) == {
        "code": "unauthorized",
        "message": "Unauthorized",
    }


def test_reprocess_requests_published_on_the_stage_bus_reach_the_reprocess_function(chalice_deployed):
    """The API, the sweeper and requeues publish ReprocessRequested on docpipe-<stage>; Chalice's rule
    listens on the default bus; the infra stack forwards."""
    aws, stage = chalice_deployed["aws"], chalice_deployed["stage"]
    from chalicelib import contracts

    detail = {"doc_id": "d" * 32, "version": None}
    aws["events"].put_events(
        Entries=[
            {
                "Source": contracts.API_SOURCE,
                "DetailType": contracts.REPROCESS_REQUESTED,
                "Detail": json.dumps(detail),
                "EventBusName": stage.outputs["EventBusName"],
            }
        ]
    )
    group = INVOCATIONS_LOG_GROUP + stage.resources.function_name("on_reprocess")
    deadline = time.monotonic() + 10
    events: list[dict[str, Any]] = []
    while not events and time.monotonic() < deadline:
        found = aws["logs"].describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        if found:
            events = aws["logs"].filter_log_events(logGroupName=group)["events"]
        time.sleep(0.2)
    assert events, "the ReprocessRequested event never reached on_reprocess"
    delivered = json.loads(events[-1]["message"])
    assert delivered["bus"] == "default" and delivered["event"]["detail"] == detail


def test_a_second_chalice_deploy_followed_by_finish_keeps_every_setting(chalice_deployed):
    project, stage, aws = chalice_deployed["project"], chalice_deployed["stage"], chalice_deployed["aws"]
    _run([tool("chalice"), "deploy", "--stage", STAGE], project, chalice_deployed["aws"]["lambda"].meta.endpoint_url)
    # chalice deploy alone writes the rule targets again without their DLQ and retries: the read-back says so
    bare = readback.problems(readback.read_stage(aws, stage, readback.api_id_of(aws, STAGE, project)), stage)
    ruled = [e.name for e in configure.extras(stage, calls.handler_kinds(project / "app.py")) if e.rule]
    assert {f"{name}: a rule's target has no dead-letter queue" for name in ruled} <= set(bare), bare
    finish.finish(stage, aws, project)
    assert readback.problems(readback.read_stage(aws, stage, readback.api_id_of(aws, STAGE, project)), stage) == []


def _drop_log_grants(f: dict[str, Any]) -> None:
    for document in f["role_policies"]:
        document["Statement"] = [s for s in document["Statement"] if "logs:PutLogEvents" not in s["Action"]]


# A deployed stage broken on purpose, one way at a time (on a copy of the chalice deploy's read-back): function,
# how, and the problem the read-back must report.
BREAKAGES = {
    "runtime": ("sweep", lambda f: f.update(runtime="python3.11"), "runtime python3.11, not python3.13"),
    "unresolved": (
        "api_handler",
        lambda f: f["environment"].update(DOCPIPE_WEB_ORIGIN="{{resolve:ssm:/docpipe/origin}}"),
        "an unresolved {{resolve:...}} in its environment",
    ),
    "no_magic": ("on_upload", lambda f: f["environment"].pop("MAGIC"), "MAGIC does not name the packaged database"),
    "no_log_group": ("on_records", lambda f: f.update(log_group={"exists": False}), "no log group"),
    "no_log_grant": ("api_handler", _drop_log_grants, "its role may not write to /aws/lambda/"),
    "rule_elsewhere": (
        "on_reprocess",
        lambda f: f.update(rules=[]),
        "no rule on the default bus invokes it",
    ),  # what read_rules sees of a rule on docpipe-<stage>: nothing
    "no_dlq": ("sweep", lambda f: f["rules"][0].update(dead_letter=None), "a rule's target has no dead-letter queue"),
    "no_retry": ("on_upload", lambda f: f["rules"][0].update(retry=None), "a rule's target has retry policy None"),
    "no_async": ("on_upload", lambda f: f["async"].update(on_failure=None), "failed async invocations go nowhere"),
    "no_mapping": ("on_records", lambda f: f.update(mappings=[]), "no SQS mapping feeds it"),
    "no_cap": ("on_records", lambda f: f["mappings"][0].update(max_concurrency=None), "has no concurrency cap"),
    "flag_only": (
        "on_records",
        lambda f: f["mappings"][0].update(reports_failures=True),
        "ReportBatchItemFailures and the function's setting disagree",
    ),  # the mapping reports failures the consumer does not return: it would delete the batch itself
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_the_read_back_reports_a_stage_broken_on_purpose(chalice_deployed, breakage):
    function, breaking, expected = BREAKAGES[breakage]
    stage, broken = chalice_deployed["stage"], copy.deepcopy(chalice_deployed["readback"])
    breaking(broken["functions"][function])
    found = readback.problems(broken, stage)
    assert len(found) == 1 and found[0].startswith(stage.resources.function_name(function)), found
    assert expected in found[0]


def test_the_read_back_reports_api_gateway_answers_without_docpipe_json(chalice_deployed):
    stage, broken = chalice_deployed["stage"], copy.deepcopy(chalice_deployed["readback"])
    del broken["api"]["gateway_responses"]["ACCESS_DENIED"]
    assert readback.problems(broken, stage) == ["the API answers ACCESS_DENIED without docpipe's JSON and CORS headers"]


def test_the_template_deploy_reads_back_as_a_working_stage(template_deployed):
    stage, back = template_deployed["stage"], template_deployed["readback"]
    assert readback.problems(back, stage) == []
    (mapping,) = back["functions"]["on_records"]["mappings"]
    assert (mapping["batch_size"], mapping["max_concurrency"], mapping["reports_failures"]) == (10, 5, True)


@pytest.mark.parametrize("path", ["chalice_deployed", "template_deployed"])
def test_each_path_has_the_backfill_state_machine_with_a_role_that_is_exactly_enough(path, request):
    deployed = request.getfixturevalue(path)
    stage, back = deployed["stage"], deployed["readback"]
    machine, outputs = back["backfill"], stage.outputs
    assert machine is not None and machine["arn"] == outputs["BackfillStateMachineArn"]
    assert (machine["status"], machine["type"]) == ("ACTIVE", "STANDARD")
    assert machine["definition"] == json.loads(backfill_machine.definition())  # every "ResultPath": null kept
    role = machine["role"]
    assert (role["trusted"], role["managed"]) == (["states.amazonaws.com"], [])
    statements = [s for document in role["policies"] for s in document["Statement"]]
    granted = {a for s in statements for a in readback._listed(s["Action"])}
    assert granted == set().union(*(NEEDS[r] for r in readback.task_resources(machine["definition"]))) | DISTRIBUTED_MAP
    own = (outputs["BackfillQueueArn"], f"arn:aws:s3:::{outputs['BucketName']}", f":table/{outputs['TableName']}",
           f":stateMachine:docpipe-{stage.name}-backfill", f":execution:docpipe-{stage.name}-backfill/")  # fmt: skip
    for statement in statements:
        for resource in readback._listed(statement["Resource"]):
            assert any(mark in resource for mark in own), resource
    # its batches reach their own consumer, one message at a time, under its own ceiling
    (mapping,) = back["functions"]["on_backfill"]["mappings"]
    assert mapping["source"] == outputs["BackfillQueueArn"]
    assert (mapping["batch_size"], mapping["max_concurrency"]) == (1, 4)
    assert readback.state_machine_problems(machine, stage) == []


def test_the_readback_names_what_a_broken_backfill_state_machine_lacks(chalice_deployed):
    stage, machine = chalice_deployed["stage"], chalice_deployed["readback"]["backfill"]
    assert readback.state_machine_problems(None, stage) == [f"docpipe-{STAGE}-backfill: no backfill state machine "
                                                            "(BackfillStateMachineArn)"]  # fmt: skip
    states = machine["definition"]["States"]
    invoking = {**machine["definition"], "States": {**states, "Direct": {"Type": "Task", "End": True,
                "Resource": "arn:aws:states:::lambda:invoke"}}}  # fmt: skip
    broad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    broken = {**machine, "status": "DELETING", "definition": invoking,
              "role": {**machine["role"], "managed": ["arn:aws:iam::aws:policy/AdministratorAccess"],
                       "policies": [*machine["role"]["policies"], broad]}}  # fmt: skip
    found = readback.state_machine_problems(broken, stage)
    assert len(found) == 4, found
    assert [p for p in found if "invokes Lambda" in p] and [p for p in found if "a wildcard" in p]


def test_the_two_paths_differ_only_where_documented(chalice_deployed, template_deployed):
    chalice = _comparable(chalice_deployed["readback"], chalice_deployed["stage"])
    template = _comparable(template_deployed["readback"], template_deployed["stage"])
    differences = set()
    for function in chalice:
        for key in set(chalice[function]) | set(template[function]):
            a, b = chalice[function].get(key), template[function].get(key)
            if isinstance(a, dict) and isinstance(b, dict):
                differences |= {(function, key, k) for k in set(a) | set(b) if a.get(k) != b.get(k)}
            elif a != b:
                differences.add((function, key, ""))
    assert differences == DOCUMENTED_DIFFERENCES


def _comparable(back: dict[str, Any], stage: configure.Stage) -> dict[str, dict[str, Any]]:
    """The read-back with stage-specific names, ids and account details replaced by placeholders."""
    text = json.dumps(back["functions"])
    o = stage.outputs
    tokens = {"UserPoolArn": "<pool-arn>", "UserPoolId": "<pool>", "UserPoolClientId": "<client>",
              "CursorSecretArn": "<secret>", "WebUrl": "<site>"}  # fmt: skip
    for output, token in tokens.items():
        text = text.replace(o[output], token)
    text = text.replace(f"docpipe-{stage.name}", "docpipe-<stage>").replace(
        f"docpipe/{stage.name}/", "docpipe/<stage>/"
    )
    out: dict[str, dict[str, Any]] = json.loads(text)
    for f in out.values():
        f.pop("arn")
        f["environment"]["DOCPIPE_STAGE"] = "<stage>"
        f["mappings"] = {str(i): m for i, m in enumerate(f["mappings"])}
        if f["mappings"]:
            f["mappings"] = {k: v for m in f["mappings"].values() for k, v in m.items()}
    return out


def test_the_web_app_is_published_with_the_api_of_either_path(chalice_deployed, template_deployed, infra_stack):
    """`python -m deploy.web`, as both make targets end: the stage's API in config.json, whichever path made it."""
    endpoint = infra_stack["endpoint"]
    for stage, project in ((STAGE, chalice_deployed["project"]), (TEMPLATE_STAGE, template_deployed["built"].project)):
        aws = chalice_deployed["aws"]
        out = _run(
            [sys.executable, "-m", "deploy.web", "--stage", stage, "--stack", f"docpipe-{stage}-infra",
             "--project", str(project)],
            Path(__file__).resolve().parents[2], endpoint,
        )  # fmt: skip
        assert "published" in out and "invalidation" in out
        desc = aws["cloudformation"].describe_stacks(StackName=f"docpipe-{stage}-infra")["Stacks"][0]
        bucket = next(o["OutputValue"] for o in desc["Outputs"] if o["OutputKey"] == "WebBucketName")
        config = json.loads(aws["s3"].get_object(Bucket=bucket, Key="config.json")["Body"].read())
        api_id = readback.api_id_of(aws, stage, project)
        assert config["api"].startswith(f"https://{api_id}.execute-api.{REGION}.amazonaws.com/"), config["api"]
