"""The local stack's data folder: a snapshot of one emulator put back into a new one, as `make run` does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.data import DataFolder, DataFolderBusy, Snapshotter
from local.emulator import Emulator, free_port
from local.provision import Stack, StackNames, clients, provision
from tests.support import samples

pytestmark = pytest.mark.emulator


@pytest.fixture
def fresh_stack() -> Iterator[Any]:
    """A function that starts one more emulator and provisions it (all stopped at the end)."""
    import app as app_module

    started: list[Emulator] = []

    def make() -> tuple[Stack, dict[str, Any]]:
        emulator = Emulator(port=free_port()).start()
        started.append(emulator)
        stack = provision(emulator.endpoint, app_module.app, StackNames())
        return stack, clients(emulator.endpoint, stack.names.region)

    yield make
    for emulator in started:
        emulator.stop()


def queued(aws: dict[str, Any], url: str) -> list[str]:
    bodies = []
    while (
        got := aws["sqs"]
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        .get("Messages", [])
    ):
        bodies += [m["Body"] for m in got]
    return bodies


def test_a_snapshot_brings_back_objects_items_and_waiting_messages_and_nothing_twice(
    fresh_stack: Any, tmp_path: Path
) -> None:
    old, old_aws = fresh_stack()
    sub, bucket, table = old.user_subs["demo"], old.names.bucket, old.names.table
    pdf = samples.pdf(pages=2)
    old_aws["s3"].put_object(
        Bucket=bucket, Key=f"uploads/{sub}/r é.pdf", Body=pdf, ContentType="application/pdf", Metadata={"a": "b"}
    )
    item = {"pk": {"S": "DOC#1"}, "sk": {"S": "DOC"}, "owner": {"S": sub}, "blob": {"B": b"\x00\xff"}}
    item["metadata"] = {"M": {"pages": {"N": "2"}, "tags": {"L": [{"S": "x"}, {"NULL": True}]}}}
    old_aws["dynamodb"].put_item(TableName=table, Item=item)
    records_url = old.queues[old.names.records_queue]
    old_aws["sqs"].send_message(QueueUrl=records_url, MessageBody='{"chunk": 1}')
    folder = DataFolder(tmp_path)
    saved = Snapshotter(folder, old_aws).save(old.user_subs)
    assert (saved.objects, saved.items, saved.messages) == (1, 1, 2)  # the notification was never handled

    new, aws = fresh_stack()
    assert (new.user_subs, new.user_pool_id, new.client_id) == (old.user_subs, old.user_pool_id, old.client_id)
    restored = Snapshotter(folder, aws).restore(new.user_subs)
    assert restored is not None and (restored.objects, restored.items, restored.messages) == (1, 1, 2)
    assert restored.remapped == {}
    got = aws["s3"].get_object(Bucket=bucket, Key=f"uploads/{sub}/r é.pdf")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (pdf, "application/pdf", {"a": "b"})
    assert aws["dynamodb"].get_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})["Item"] == item
    assert queued(aws, records_url) == ['{"chunk": 1}']
    notes = queued(aws, new.queues[new.names.notifications_queue])
    key = json.loads(notes[0])["Records"][0]["s3"]["object"]["key"]
    assert len(notes) == 1 and key.startswith("uploads%2F")  # keys arrive URL-encoded


def test_a_user_who_comes_back_with_another_sub_keeps_their_documents(fresh_stack: Any, tmp_path: Path) -> None:
    old, old_aws = fresh_stack()
    gone = "0f0f0f0f-1111-4222-8333-444455556666"  # as if the emulator had given the demo user another sub
    old_aws["s3"].put_object(Bucket=old.names.bucket, Key=f"uploads/{gone}/a.txt", Body=b"hello")
    old_aws["dynamodb"].put_item(
        TableName=old.names.table,
        Item={"pk": {"S": "DOC#2"}, "sk": {"S": "DOC"}, "gsi1pk": {"S": f"OWNER#{gone}"}, "owner": {"S": gone}},
    )
    folder = DataFolder(tmp_path)
    Snapshotter(folder, old_aws).save({**old.user_subs, "demo": gone}, queues=False)

    new, aws = fresh_stack()
    sub = new.user_subs["demo"]
    restored = Snapshotter(folder, aws).restore(new.user_subs)
    assert restored is not None and restored.remapped == {gone: sub}
    keys = [o["Key"] for o in aws["s3"].list_objects_v2(Bucket=new.names.bucket)["Contents"]]
    assert keys == [f"uploads/{sub}/a.txt"]
    doc = aws["dynamodb"].get_item(TableName=new.names.table, Key={"pk": {"S": "DOC#2"}, "sk": {"S": "DOC"}})["Item"]
    assert (doc["owner"]["S"], doc["gsi1pk"]["S"]) == (sub, f"OWNER#{sub}")


def test_a_save_keeps_the_previous_snapshot_until_it_is_complete(fresh_stack: Any, tmp_path: Path) -> None:
    stack, aws = fresh_stack()
    folder = DataFolder(tmp_path)
    snapshots = Snapshotter(folder, aws)
    aws["s3"].put_object(Bucket=stack.names.bucket, Key="uploads/x/one.txt", Body=b"one")
    snapshots.save(stack.user_subs, queues=False)
    first = folder.current()
    aws["s3"].put_object(Bucket=stack.names.bucket, Key="uploads/x/two.txt", Body=b"two")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the emulator went away mid-save")

    snapshots._ddb = type("Broken", (), {"list_tables": broken})()
    with pytest.raises(ConnectionError):
        snapshots.save(stack.user_subs, queues=False)
    assert folder.current() == first and folder.state() is not None
    assert [o["key"] for o in _objects(first)] == ["uploads/x/one.txt"]


def _objects(snapshot: Path | None) -> list[dict[str, Any]]:
    assert snapshot is not None
    return [json.loads(line) for line in (snapshot / "objects.jsonl").read_text().splitlines()]


def test_one_data_folder_serves_one_stack_at_a_time(tmp_path: Path) -> None:
    first, second = DataFolder(tmp_path), DataFolder(tmp_path)
    first.lock()
    try:
        with pytest.raises(DataFolderBusy, match="in use by another docpipe stack"):
            second.lock()
    finally:
        first.unlock()
    second.lock()
    second.unlock()
