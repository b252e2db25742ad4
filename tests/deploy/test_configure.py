"""deploy.configure: a stage from the infra stack's outputs, written whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy import configure, package

STAGE = "demo"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    package.copy_sources(tmp_path / "project")
    return tmp_path / "project"


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_stage_gets_its_config_one_policy_per_function_and_a_merge_template(project):
    written = configure.configure(configure.Stage(STAGE, package.example_outputs(STAGE)), project)
    names = {p.relative_to(project).as_posix() for p in written}
    assert ".chalice/config.json" in names and f"artifacts/{STAGE}/app-overrides.json" in names
    assert {n for n in names if n.startswith(".chalice/policy-")} == {
        f".chalice/policy-{STAGE}-{f}.json" for f in package.example_outputs(STAGE)["FunctionNames"].split(",")
    }
    assert not list(project.rglob(".*.json.*")), "temporary files were left behind"


def test_the_environment_names_the_packaged_libmagic_and_leaves_no_test_setting(project):
    configure.configure(configure.Stage(STAGE, package.example_outputs(STAGE)), project)
    env = json.loads((project / ".chalice" / "config.json").read_text())["stages"][STAGE]["environment_variables"]
    assert env["MAGIC"] == "/var/task/magic.mgc"
    assert env["DOCPIPE_LIBMAGIC"] == "/var/task/lib/libmagic.so.1"
    assert not {"DOCPIPE_AWS_ENDPOINT", "DOCPIPE_SANDBOX", "DOCPIPE_COGNITO_ENDPOINT"} & set(env)


def test_a_failing_configure_leaves_every_file_as_it_was(project):
    before = _snapshot(project)
    outputs = package.example_outputs(STAGE)
    outputs["RecordsVisibilityTimeout"] = "30"  # below six times the consumer's timeout
    with pytest.raises(configure.ConfigurationError, match="visibility timeout"):
        configure.configure(configure.Stage(STAGE, outputs), project)
    assert _snapshot(project) == before


def test_a_write_that_fails_midway_leaves_no_file_changed(project, monkeypatch):
    configure.configure(configure.Stage(STAGE, package.example_outputs(STAGE)), project)
    before = _snapshot(project)
    outputs = {**package.example_outputs(STAGE), "TableName": "another-table"}
    real_fdopen = configure.os.fdopen
    calls = []

    def failing_fdopen(fd, *args, **kwargs):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(configure.os, "fdopen", failing_fdopen)
    with pytest.raises(OSError, match="No space left"):
        configure.configure(configure.Stage(STAGE, outputs), project)
    assert _snapshot(project) == before
    assert not list(project.rglob(".*.json.*"))


def test_a_stack_without_logs_and_alarms_for_every_function_is_refused(project):
    outputs = {**package.example_outputs(STAGE), "FunctionNames": "api_handler,on_upload"}
    with pytest.raises(configure.ConfigurationError, match="redeploy the infra stack"):
        configure.configure(configure.Stage(STAGE, outputs), project)


def test_the_command_line_refuses_outputs_of_another_stage(project, tmp_path, capsys):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(package.example_outputs("prod")))
    assert configure.main(["--stage", STAGE, "--outputs", str(path), "--project", str(project)]) == 2
    assert "not 'demo'" in capsys.readouterr().err


def test_an_arm64_stage_runs_its_functions_on_arm64(project):
    configure.configure(configure.Stage(STAGE, package.example_outputs(STAGE), arch="arm64"), project)
    stage = json.loads((project / ".chalice" / "config.json").read_text())["stages"][STAGE]
    assert stage["lambda_architecture"] == "arm64"
