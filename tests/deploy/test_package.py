"""`make package` offline: the SAM template passes cfn-lint and, translated as CloudFormation will
translate it (aws-sam-translator), holds what a first deploy needs.

One packaging per session (`deploy.package.build`, as `make package` runs it)
from the infra stack's outputs on the emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from typing import Any

import pytest

from deploy import calls, configure, package, policies, sam
from deploy.templates import REPO, load_template, resources_of_type
from tests.deploy.conftest import STAGE, tool


@pytest.fixture(scope="session")
def template(packaged: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(packaged.template.read_text())
    return out


@pytest.fixture(scope="session")
def translated(template: dict[str, Any]) -> dict[str, Any]:
    return sam.translate(sam.with_code_at(template, "s3://docpipe-ci-deploy/deployment.zip"))


def _logical(function: str) -> str:
    return "APIHandler" if function == policies.API else configure._logical_id(function)


def _functions(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources_of_type(translated, "AWS::Lambda::Function").items()}


def test_the_packaged_template_passes_cfn_lint(packaged):
    proc = subprocess.run([tool("cfn-lint"), str(packaged.template)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_function_names_equal_the_log_permissions_and_the_alarm_dimensions(packaged, translated):
    res = policies.Resources.from_outputs(packaged.outputs)
    infra = load_template()
    alarmed = {
        dim["Value"]["Fn::Sub"].replace("${Stage}", STAGE)
        for alarm in resources_of_type(infra, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["Namespace"] == "AWS/Lambda"
        for dim in alarm["Properties"]["Dimensions"]
    }
    logged = {
        g["Properties"]["LogGroupName"]["Fn::Sub"].replace("${Stage}", STAGE)
        for g in resources_of_type(infra, "AWS::Logs::LogGroup").values()
    }
    functions = _functions(translated)
    roles = resources_of_type(translated, "AWS::IAM::Role")
    names = set()
    for function in calls.handler_kinds(REPO / "app.py"):
        props = functions[_logical(function)]
        name = props["FunctionName"]
        names.add(name)
        assert name == res.function_name(function)
        role = roles[props["Role"]["Fn::GetAtt"][0]]["Properties"]
        (document,) = [p["PolicyDocument"] for p in role["Policies"]]
        (log_arn,) = next(s for s in document["Statement"] if s["Sid"] == "Logs")["Resource"]
        assert log_arn.endswith(f":log-group:/aws/lambda/{name}:*")
    assert names == alarmed
    assert {f"/aws/lambda/{n}" for n in names} == logged
    # the app stack creates no log group of its own (the infra stack's would clash)
    assert not resources_of_type(translated, "AWS::Logs::LogGroup")


def test_every_rule_is_on_the_default_bus_with_a_dead_letter_queue_and_retries(packaged, translated):
    dlq = packaged.outputs["EventsDeadLetterQueueArn"]
    rules = resources_of_type(translated, "AWS::Events::Rule")
    assert {r["Properties"].get("Name") for r in rules.values()} >= {f"docpipe-{STAGE}-on_upload"}
    for logical, rule in rules.items():
        props = rule["Properties"]
        assert "EventBusName" not in props, logical
        for target in props["Targets"]:
            assert target["DeadLetterConfig"]["Arn"] == dlq, logical
            assert target["RetryPolicy"] == configure.EVENT_RETRIES, logical


def _mapping_of(translated: dict[str, Any], function: str) -> dict[str, Any]:
    mappings = resources_of_type(translated, "AWS::Lambda::EventSourceMapping").values()
    (mapping,) = [m for m in mappings if function in json.dumps(m["Properties"]["FunctionName"])]
    props: dict[str, Any] = mapping["Properties"]
    return props


def test_the_backfill_mapping_takes_one_message_at_a_time_with_its_own_ceiling(packaged, translated):
    props = _mapping_of(translated, "OnBackfill")
    assert props["BatchSize"] == 1 and props["ScalingConfig"] == {"MaximumConcurrency": 4}
    assert "FunctionResponseTypes" not in props  # it raises on failure: the message comes back
    assert json.dumps(props["EventSourceArn"]).endswith(f':{packaged.outputs["BackfillQueueName"]}"}}')


def test_the_records_mapping_reports_batch_item_failures_with_a_concurrency_cap(packaged, translated):
    props = _mapping_of(translated, "OnRecords")
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert json.dumps(props["EventSourceArn"]).endswith(f':{packaged.outputs["RecordsQueueName"]}"}}')
    consumer = _functions(translated)["OnRecords"]
    assert int(packaged.outputs["RecordsVisibilityTimeout"]) >= 6 * consumer["Timeout"]
    # the consumer is told, and only where the mapping reports them (else it settles the batch itself)
    reporting = {
        logical for logical, props in _functions(translated).items()
        if props["Environment"]["Variables"].get(configure.REPORTS_BATCH_ITEM_FAILURES) == "1"
    }  # fmt: skip
    assert reporting == {"OnRecords"}
    assert consumer["Environment"]["Variables"]["DOCPIPE_TABLE"] == packaged.outputs["TableName"]


def test_async_functions_send_failures_to_the_async_failures_queue(packaged, translated):
    configs = resources_of_type(translated, "AWS::Lambda::EventInvokeConfig")
    destination = packaged.outputs["AsyncFailuresQueueArn"]
    assert len(configs) >= len(policies.ASYNC_FUNCTIONS)
    for config in configs.values():
        props = config["Properties"]
        assert props["MaximumRetryAttempts"] == configure.ASYNC_RETRIES
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == destination


def test_every_function_runs_with_its_own_least_privilege_role(packaged, template):
    res = policies.Resources.from_outputs(packaged.outputs)
    for function in policies.FUNCTION_ACTIONS:
        role = template["Resources"][_logical(function)]["Properties"]["Role"]["Fn::GetAtt"][0]
        documents = [p["PolicyDocument"] for p in template["Resources"][role]["Properties"]["Policies"]]
        assert documents == [policies.render(function, res)], function


def test_memory_timeout_and_reserved_concurrency_come_from_the_config(template):
    config = json.loads((REPO / ".chalice" / "config.json").read_text())["lambda_functions"]
    for function, settings in config.items():
        props = template["Resources"][_logical(function)]["Properties"]
        assert (props["MemorySize"], props["Timeout"]) == (settings["lambda_memory_size"], settings["lambda_timeout"])
        assert props.get("ReservedConcurrentExecutions") == configure.RESERVED_CONCURRENCY.get(function)
        assert props["Tracing"] == "Active"
        assert props["Runtime"] == "python3.13"


def test_the_environment_names_the_packaged_libmagic_and_the_cursor_secret_but_holds_no_secret(packaged, template):
    for logical in (_logical(f) for f in calls.handler_kinds(REPO / "app.py")):
        env = template["Resources"][logical]["Properties"]["Environment"]["Variables"]
        assert env["MAGIC"] == "/var/task/magic.mgc"
        assert env["DOCPIPE_LIBMAGIC"] == "/var/task/lib/libmagic.so.1"
        assert env["DOCPIPE_CURSOR_SECRET_ARN"] == packaged.outputs["CursorSecretArn"]
        assert "DOCPIPE_CURSOR_SECRET" not in env
        assert "{{resolve:" not in json.dumps(env)
    with zipfile.ZipFile(packaged.zip) as zf:
        assert {"magic.mgc", "lib/libmagic.so.1"} <= set(zf.namelist())


def test_uploads_arrive_through_eventbridge_from_the_uploads_prefix(packaged, template):
    event = template["Resources"]["OnUpload"]["Properties"]["Events"]["OnUploadEvent"]
    assert event["Type"] == "EventBridgeRule"
    pattern = event["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail"]["bucket"]["name"] == [packaged.outputs["BucketName"]]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "uploads/"}]


def test_api_gateway_rejections_are_docpipe_json_errors_with_cors_headers(template, infra_stack):
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    unauthorized = body["x-amazon-apigateway-gateway-responses"]["UNAUTHORIZED"]
    assert unauthorized["statusCode"] == "401"
    assert json.loads(unauthorized["responseTemplates"]["application/json"]) == {
        "code": "unauthorized",
        "message": "Unauthorized",
    }
    origin = unauthorized["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
    assert origin == f"'{infra_stack['outputs']['WebUrl']}'"  # the site's own origin: the first of WebOrigins


def test_make_package_builds_from_the_example_outputs_without_aws():
    """`make package STAGE=...` with no OUTPUTS and no way to reach AWS: artifacts/<stage>/ from the example
    outputs (credentials removed, every endpoint pointed at a closed port)."""
    stage = "offline"
    outputs = package.example_outputs(stage)
    assert outputs["Stage"] == stage and "${Stage}" not in json.dumps(outputs)
    root = REPO / "artifacts" / stage
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null"
    )
    try:
        proc = subprocess.run(
            ["make", "package", f"STAGE={stage}"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert f"artifacts/{stage}/package/deployment.zip:" in proc.stdout
        template = json.loads((root / "package" / "sam.json").read_text())
        environments = [
            r["Properties"]["Environment"]["Variables"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::Serverless::Function"
        ]
        assert environments and all(e["DOCPIPE_BUCKET"] == outputs["BucketName"] for e in environments)
        with zipfile.ZipFile(root / "package" / "deployment.zip") as zf:
            assert {"app.py", "lib/libmagic.so.1", "magic.mgc"} <= set(zf.namelist())
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_local_lambda_image_gives_each_function_its_configured_memory_size():
    from deploy.lambda_image import runtime_environment

    config = json.loads((REPO / ".chalice" / "config.json").read_text())["lambda_functions"]
    for function, settings in config.items():
        env = runtime_environment(policies.Resources.from_outputs(package.example_outputs("x")).function_name(function))
        assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(settings["lambda_memory_size"]), function
