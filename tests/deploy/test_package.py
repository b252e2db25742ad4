"""`chalice package` runs offline, the merged template passes cfn-lint, and the package finds libmagic.

One packaging per session (about a minute when the dependency cache is cold):
the infra stack's outputs from the emulator configure a stage in a copy of
the project, `deploy.vendor` builds vendor/, and `chalice package
--merge-template` writes the template and deployment.zip checked below.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy import configure, policies, vendor
from deploy.templates import REPO
from tests.deploy.conftest import STAGE, completed_outputs, tool

COPY = ("app.py", "chalicelib", "requirements.txt", ".chalice/config.json")
CACHE = REPO / ".chalice" / "deployments"


def _copy_project(dest: Path) -> None:
    for name in COPY:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / name)


def _sync_cache(src: Path, dest: Path) -> None:
    if src.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        for zipped in src.glob("*.zip"):
            if not (dest / zipped.name).exists():
                shutil.copyfile(zipped, dest / zipped.name)


@pytest.fixture(scope="session")
def package(infra_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    project = tmp_path_factory.mktemp("docpipe-package")
    _copy_project(project)
    outputs = completed_outputs(infra_stack["outputs"])
    configure.configure(configure.Stage(STAGE, outputs, xray=True), project)
    built = REPO / "vendor"
    if not vendor.is_built(built):
        vendor.build(built)
    shutil.copytree(built, project / "vendor")
    _sync_cache(CACHE, project / ".chalice" / "deployments")
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    merge = project / "artifacts" / STAGE / "app-overrides.json"
    out = project / "artifacts" / STAGE / "package"
    cmd = [tool("chalice"), "package", "--stage", STAGE, "--merge-template", str(merge), str(out)]
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _sync_cache(project / ".chalice" / "deployments", CACHE)
    template = json.loads((out / "sam.json").read_text())
    yield {"project": project, "out": out, "template": template, "outputs": outputs}


def _function(template: dict[str, Any], logical: str) -> dict[str, Any]:
    return template["Resources"][logical]["Properties"]


def test_the_merged_app_template_passes_cfn_lint(package):
    proc = subprocess.run(
        [tool("cfn-lint"), str(package["out"] / "sam.json")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_records_consumer_reports_batch_item_failures(package):
    props = _function(package["template"], "OnRecords")
    source = props["Events"]["OnRecordsSqsEventSource"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Queue"]["Fn::Sub"].endswith(":docpipe-ci-records")
    assert int(package["outputs"]["RecordsVisibilityTimeout"]) >= 6 * props["Timeout"]


def test_every_function_runs_with_its_own_least_privilege_role(package):
    template = package["template"]
    res = policies.Resources.from_outputs(package["outputs"])
    for function in policies.FUNCTION_ACTIONS:
        logical = "APIHandler" if function == policies.API else configure._logical_id(function)
        role = _function(template, logical)["Role"]["Fn::GetAtt"][0]
        documents = [p["PolicyDocument"] for p in template["Resources"][role]["Properties"]["Policies"]]
        assert documents == [policies.render(function, res)], function


def test_memory_timeout_and_reserved_concurrency_come_from_the_config(package):
    config = json.loads((REPO / ".chalice" / "config.json").read_text())["lambda_functions"]
    for function, settings in config.items():
        logical = "APIHandler" if function == policies.API else configure._logical_id(function)
        props = _function(package["template"], logical)
        assert (props["MemorySize"], props["Timeout"]) == (settings["lambda_memory_size"], settings["lambda_timeout"])
        assert props.get("ReservedConcurrentExecutions") == configure.RESERVED_CONCURRENCY.get(function)
        assert props["Tracing"] == "Active"


def test_uploads_arrive_through_eventbridge_with_a_dead_letter_queue(package):
    props = _function(package["template"], "OnUpload")
    event = props["Events"]["OnUploadEvent"]
    assert event["Type"] == "EventBridgeRule"
    assert event["Properties"]["Pattern"]["source"] == ["aws.s3"]
    assert event["Properties"]["Pattern"]["detail"]["bucket"]["name"] == [package["outputs"]["BucketName"]]
    assert "EventBusName" not in event["Properties"]  # S3 publishes to the default bus
    assert event["Properties"]["DeadLetterConfig"]["Arn"] == package["outputs"]["EventsDeadLetterQueueArn"]
    destination = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == package["outputs"]["AsyncFailuresQueueArn"]
    assert props["Environment"]["Variables"]["DOCPIPE_CURSOR_SECRET"].startswith("{{resolve:secretsmanager:")


def test_api_gateway_rejections_are_docpipe_json_errors_with_cors_headers(package):
    body = package["template"]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    unauthorized = body["x-amazon-apigateway-gateway-responses"]["UNAUTHORIZED"]
    assert unauthorized["statusCode"] == "401"
    assert json.loads(unauthorized["responseTemplates"]["application/json"]) == {
        "code": "unauthorized",
        "message": "Unauthorized",
    }
    origin = unauthorized["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
    assert origin == "'https://app.example.com'"


def test_the_packaged_code_loads_the_vendored_libmagic_and_nothing_else(package, tmp_path):
    with zipfile.ZipFile(package["out"] / "deployment.zip") as zf:
        names = set(zf.namelist())
        assert {"lib/libmagic.so.1", "lib/libz.so.1", "magic.mgc", "magic/__init__.py", "app.py"} <= names
        zf.extractall(tmp_path)
    probe = (
        "import magic\n"
        "print(magic.from_buffer(b'%PDF-1.4\\n1 0 obj\\n<<>>\\nendobj\\n', mime=True))\n"
        "print(magic.__file__)\n"
        "print(sorted({l.split()[-1] for l in open('/proc/self/maps') if 'libmagic' in l or 'libz.so' in l}))\n"
    )
    # As on Lambda: the package root on sys.path, its lib/ on the loader path, MAGIC naming its database.
    env = {"LD_LIBRARY_PATH": str(tmp_path / "lib"), "MAGIC": str(tmp_path / "magic.mgc"), "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-S", "-c", probe], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    mime, module, loaded = proc.stdout.splitlines()
    assert mime == "application/pdf"
    assert module.startswith(str(tmp_path))
    assert loaded == repr(sorted([str(tmp_path / "lib" / "libmagic.so.1"), str(tmp_path / "lib" / "libz.so.1")]))


def test_the_vendored_libraries_run_on_lambdas_glibc(package):
    lib = package["project"] / "vendor" / "lib"
    shipped = {p.name for p in lib.iterdir()}
    for so in lib.iterdir():
        assert vendor.required_glibc(so) <= vendor.TARGET_GLIBC, so.name
        assert set(vendor.needed(so)) <= shipped | {"libc.so.6"}, so.name
