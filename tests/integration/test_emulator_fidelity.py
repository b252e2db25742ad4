"""The local emulator behaves as AWS does where moto alone does not (see local/emulator_fidelity.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.emulator import port_in_use

pytestmark = pytest.mark.emulator

ATTRIBUTES = 100  # moto's update parser recurses once per clause
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def table(aws: dict[str, Any]) -> str:
    name = f"fidelity-{uuid.uuid4().hex[:8]}"
    aws["dynamodb"].create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    return name


def test_a_reader_never_sees_an_item_half_written_by_an_update_that_creates_it(aws, table) -> None:
    ddb, keys, torn, stop = aws["dynamodb"], [f"item-{i}" for i in range(15)], [], threading.Event()
    names = {f"#a{i}": f"a{i}" for i in range(ATTRIBUTES)}
    values = {f":v{i}": {"S": "x" * 20} for i in range(ATTRIBUTES)}
    update = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(ATTRIBUTES))

    def read() -> None:
        while not stop.is_set():
            for key in keys:
                item = ddb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
                if item is not None and len(item) != ATTRIBUTES + 1:
                    torn.append(len(item))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for key in keys:
            ddb.update_item(
                TableName=table,
                Key={"pk": {"S": key}},
                UpdateExpression=update,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
    finally:
        stop.set()
        for reader in readers:
            reader.join(10)
    assert torn == []


def test_of_many_concurrent_conditional_claims_of_one_item_exactly_one_succeeds(aws, table) -> None:
    from botocore.exceptions import ClientError

    ddb = aws["dynamodb"]
    names = {f"#a{i}": f"a{i}" for i in range(ATTRIBUTES)} | {"#claimed": "claimed"}
    update = "SET " + ", ".join(f"#a{i} = :v" for i in range(ATTRIBUTES)) + ", #claimed = :me"

    def claim(key: str, n: int) -> bool:
        try:
            ddb.update_item(
                TableName=table,
                Key={"pk": {"S": key}},
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(#claimed)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":v": {"S": "x" * 20}, ":me": {"N": str(n)}},
            )
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False
        return True

    winners = []
    for round_ in range(10):
        with ThreadPoolExecutor(8) as pool:
            winners.append(sum(pool.map(lambda n, k=f"contested-{round_}": claim(k, n), range(8))))
    assert winners == [1] * 10


def test_the_emulator_ends_when_the_process_that_started_it_is_killed() -> None:
    script = (
        "import sys, time\n"
        "from local.emulator import Emulator, free_port\n"
        "emu = Emulator(port=free_port()).start()\n"
        "print(emu.port, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        port = int(parent.stdout.readline())
        assert port_in_use("127.0.0.1", port)
        parent.send_signal(signal.SIGKILL)  # no cleanup runs in the parent
        parent.wait(10)
        deadline = time.monotonic() + 15
        while port_in_use("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not port_in_use("127.0.0.1", port)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_the_emulator_lets_go_of_the_items_its_transactions_and_queries_copy(monkeypatch) -> None:
    """moto copies the whole table for each TransactWriteItems (its rollback) and every item a filtered Query
    reads, and keeps a reference to every copy: a 10,000-object backfill grew the emulator by gigabytes.
    With the emulator's patches applied (here in-process), the copies are freed once answered."""
    import gc

    import boto3
    from moto import mock_aws
    from moto.core.common_models import BaseModel
    from moto.dynamodb.models.dynamo_type import Item

    from local import moto_server

    monkeypatch.setattr(BaseModel, "__new__", BaseModel.__new__)  # restored after the test
    moto_server.untrack_models()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="grow",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "owner", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_owner",
                    "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        for n in range(200):
            ddb.put_item(TableName="grow", Item={"pk": {"S": f"item-{n}"}, "owner": {"S": "one"}})
        for n in range(20):
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": "grow",
                            "Key": {"pk": {"S": f"item-{n}"}},
                            "UpdateExpression": "SET done = :d",
                            "ExpressionAttributeValues": {":d": {"BOOL": True}},
                        }
                    }
                ]
            )
            page = ddb.query(
                TableName="grow",
                IndexName="by_owner",
                KeyConditionExpression="#o = :o",
                FilterExpression="attribute_exists(flagged)",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":o": {"S": "one"}},
            )
            assert page["Items"] == [] and page["ScannedCount"] == 200
        gc.collect()
        alive = sum(isinstance(o, Item) for o in gc.get_objects())
    assert alive <= 200 + 20, f"{alive:,} items alive for a table of 200 (20 transactions and 20 queries later)"
