"""Each Lambda function's IAM policy grants exactly what its code calls, on this stage's resources only."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from deploy import calls, policies

RESOURCES = policies.Resources(
    stage="ci",
    region="eu-west-1",
    account="111122223333",
    bucket="docpipe-ci-111122223333-eu-west-1",
    table="docpipe-ci",
    records_queue_arn="arn:aws:sqs:eu-west-1:111122223333:docpipe-ci-records",
    event_bus_arn="arn:aws:events:eu-west-1:111122223333:event-bus/docpipe-ci",
    async_failures_arn="arn:aws:sqs:eu-west-1:111122223333:docpipe-ci-async-failures",
    user_pool_arn="arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_abc",
    cursor_secret_arn="arn:aws:secretsmanager:eu-west-1:111122223333:secret:docpipe/ci/cursor-secret-AbCdEf",
    backfill_queue_arn="arn:aws:sqs:eu-west-1:111122223333:docpipe-ci-backfill",
    backfill_machine_arn="arn:aws:states:eu-west-1:111122223333:stateMachine:docpipe-ci-backfill",
)
FUNCTIONS = calls.function_calls()


def test_every_lambda_function_of_the_app_has_a_policy_manifest():
    assert set(FUNCTIONS) == set(policies.FUNCTION_ACTIONS), "deploy/policies.py FUNCTION_ACTIONS is out of date"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_policy_grants_exactly_the_calls_its_code_makes(function):
    derived = FUNCTIONS[function].actions()
    granted = set(policies.FUNCTION_ACTIONS.get(function, ()))
    missing = {a: FUNCTIONS[function].where(a) for a in sorted(derived - granted)}
    assert not missing, f"{function} calls these without a grant in deploy/policies.py: {missing}"
    assert not granted - derived, f"{function} is granted actions its code never calls: {sorted(granted - derived)}"


@pytest.mark.parametrize("function", sorted(policies.FUNCTION_ACTIONS))
def test_rendered_policies_have_no_scan_no_wildcard_resource_and_only_this_stage(function):
    policy = policies.render(function, RESOURCES)
    assert policies.granted_actions(policy) == set(policies.FUNCTION_ACTIONS[function]) | policies.platform_actions(
        function
    )
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert not any(a.endswith(":Scan") or "*" in a for a in statement["Action"])
        if set(statement["Action"]) <= policies.NO_RESOURCE_TYPES:
            assert statement["Resource"] == ["*"]  # IAM has no other way to grant these
            continue
        for arn in statement["Resource"]:
            assert arn != "*" and arn.startswith("arn:aws:")
            assert ":111122223333:" in arn or arn.startswith(f"arn:aws:s3:::{RESOURCES.bucket}")


def test_the_backfill_consumer_writes_only_renditions_and_its_manifests_and_the_api_only_stops_executions():
    by_action = {a: s["Resource"] for s in policies.render("on_backfill", RESOURCES)["Statement"] for a in s["Action"]}
    assert all("/renditions/" in arn or "/backfills/" in arn for arn in by_action["s3:PutObject"])
    assert all("/backfills/" in arn for arn in by_action["s3:ListMultipartUploadParts"])
    assert by_action["states:StartExecution"] == [RESOURCES.backfill_machine_arn]
    api = {a: s["Resource"] for s in policies.render(policies.API, RESOURCES)["Statement"] for a in s["Action"]}
    assert api["states:StopExecution"] == ["arn:aws:states:eu-west-1:111122223333:execution:docpipe-ci-backfill:*"]
    # the API queues backfill plans, and the purge steps of the documents it is asked to delete
    assert sorted(api["sqs:SendMessage"]) == sorted([RESOURCES.records_queue_arn, RESOURCES.backfill_queue_arn])
    assert not {"states:StartExecution", "states:SendTaskSuccess", "dynamodb:TransactWriteItems"} & set(api)


def test_the_pipeline_reads_uploads_and_writes_renditions_only():
    policy = policies.render("on_upload", RESOURCES)
    by_action = {a: s["Resource"] for s in policy["Statement"] for a in s["Action"]}
    if "s3:PutObject" in by_action:
        assert all("/renditions/" in arn for arn in by_action["s3:PutObject"])
    assert all("/uploads/" in arn for arn in by_action["s3:GetObject"])


def test_log_permissions_name_the_functions_own_log_group():
    policy = policies.render("api_handler", RESOURCES)
    logs = next(s for s in policy["Statement"] if s["Sid"] == "Logs")
    assert logs["Resource"] == ["arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/docpipe-ci:*"]


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def test_the_analysis_follows_handlers_through_wiring_and_imports_to_boto3_calls(tmp_path):
    root = _project(
        tmp_path,
        {
            "app.py": """
                from chalice import Chalice
                from chalicelib import wiring
                app = Chalice(app_name="x")

                def _helper():
                    return wiring.uploads()

                @app.route("/a")
                def a():
                    return _helper().sign()

                @app.on_sqs_message(queue="q")
                def consume(event):
                    from chalicelib.sink import Sink
                    return Sink(wiring.client("sqs")).drain()

                @app.on_cw_event({"source": ["x"]}, name="renamed")
                def on_event(event):
                    return wiring.table().put()
            """,
            "chalicelib/__init__.py": "",
            "chalicelib/wiring.py": """
                def client(service):
                    return service

                def table():
                    from chalicelib.store import Store
                    return Store(client("dynamodb"))

                def uploads():
                    from chalicelib.uploads import Uploads
                    return Uploads(client("s3"), table())
            """,
            "chalicelib/store.py": """
                class Store:
                    def __init__(self, db):
                        self._db = db
                    def put(self):
                        self._db.put_item(TableName="t", Item={})
                        self._db.query(TableName="t")
            """,
            "chalicelib/uploads.py": """
                from chalicelib import store
                class Uploads:
                    def __init__(self, s3, table):
                        self._s3 = s3
                    def sign(self):
                        self._s3.generate_presigned_post("b", "k")
                        return self._s3.generate_presigned_url("get_object", Params={})
            """,
            "chalicelib/sink.py": """
                class Sink:
                    def __init__(self, sqs):
                        self._sqs = sqs
                    def drain(self):
                        self._sqs.send_message_batch(QueueUrl="u", Entries=[])
                        self._sqs.put_item()  # not an SQS operation: ignored
            """,
        },
    )
    found = {name: fc.actions() for name, fc in calls.function_calls(root).items()}
    assert found == {
        "api_handler": {"s3:PutObject", "s3:GetObject", "dynamodb:PutItem", "dynamodb:Query"},
        "consume": {"sqs:SendMessage"},
        "renamed": {"dynamodb:PutItem", "dynamodb:Query"},
    }


def test_an_unknown_function_has_no_policy_until_it_is_declared():
    with pytest.raises(KeyError, match=r"add it to deploy/policies\.py"):
        policies.render("on_something_new", RESOURCES)
