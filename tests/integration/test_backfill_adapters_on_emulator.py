"""The backfill's S3 manifest writer and Step Functions adapter against the emulator."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from chalicelib.aws.executions import ExecutionStopper
from chalicelib.aws.manifest import MIN_PART_BYTES, ManifestWriter
from chalicelib.aws.workflow import Workflow

pytestmark = pytest.mark.emulator


def test_a_manifest_larger_than_a_part_survives_a_checkpoint_between_two_writers(
    stack: Any, aws: dict[str, Any]
) -> None:
    s3, bucket = aws["s3"], stack.names.bucket
    key = f"backfills/{uuid.uuid4().hex}/manifest.csv"
    ids = [uuid.uuid4().hex for _ in range(MIN_PART_BYTES // 33 + 5000)]  # more than one 5 MiB part
    first = ManifestWriter(s3, bucket, key, part_bytes=MIN_PART_BYTES)
    for doc_id in ids[:100_000]:
        first.add(doc_id)
    state = json.loads(json.dumps(first.checkpoint()))  # what the run record keeps
    second = ManifestWriter(s3, bucket, key, state, part_bytes=MIN_PART_BYTES)
    for doc_id in ids[100_000:]:
        second.add(doc_id)
    assert second.parts >= 1
    assert second.complete() == len(ids)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert body.splitlines() == ["doc_id", *ids]
    leftovers = s3.list_objects_v2(Bucket=bucket, Prefix=f"{key}.carry").get("KeyCount", 0)
    assert leftovers == 0


def test_an_empty_manifest_is_aborted_and_leaves_nothing(stack: Any, aws: dict[str, Any]) -> None:
    s3, bucket = aws["s3"], stack.names.bucket
    key = f"backfills/{uuid.uuid4().hex}/manifest.csv"
    writer = ManifestWriter(s3, bucket, key)
    writer.abort()
    assert s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) == 0
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    assert uploads == []


def test_a_manifest_of_a_few_rows_is_one_small_part(stack: Any, aws: dict[str, Any]) -> None:
    s3, bucket = aws["s3"], stack.names.bucket
    key = f"backfills/{uuid.uuid4().hex}/manifest.csv"
    writer = ManifestWriter(s3, bucket, key)
    writer.add("a" * 32)
    assert writer.complete() == 1
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"doc_id\n" + b"a" * 32 + b"\n"


def test_starting_an_execution_twice_under_one_name_gives_the_same_execution(stack: Any, aws: dict[str, Any]) -> None:
    sfn = aws["stepfunctions"]
    machine = sfn.create_state_machine(
        name=f"wait-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    workflow = Workflow(sfn, machine)
    first = workflow.start("run-1", {"a": 1})
    assert workflow.start("run-1", {"a": 1}) == first == workflow.execution_arn("run-1")
    stopper = ExecutionStopper(sfn)
    stopper.stop(first, "test")
    assert sfn.describe_execution(executionArn=first)["status"] == "ABORTED"
    stopper.stop(workflow.execution_arn("never-started"), "test")  # nothing to stop is not an error
    assert workflow.report("not-a-token", {}) is False
