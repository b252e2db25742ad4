"""The emulator's DynamoDB reads only a Query's partition and copies only a transaction's items
(local/moto_server.py `read_partitions`), and answers exactly as moto does without that patch: same items in
the same order, same pages, counts and cancellations, on the table, a local and two global secondary indexes."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.emulator

SMALL, LARGE = 100, 1_000  # items in the table around the measured requests


def _schema(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name_, "AttributeType": kind}
            for name_, kind in (("pk", "S"), ("sk", "S"), ("owner", "S"), ("at", "N"), ("state", "S"), ("size", "N"))
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_owner",
                "KeySchema": [
                    {"AttributeName": "owner", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_state",
                "KeySchema": [{"AttributeName": "state", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        "LocalSecondaryIndexes": [
            {
                "IndexName": "by_size",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "size", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def _item(rng: random.Random) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": f"p{rng.randrange(4)}"}, "sk": {"S": f"s{rng.randrange(30):02d}"}}
    item["size"] = {"N": str(rng.randrange(50))}
    if rng.random() < 0.8:
        item["owner"] = {"S": f"o{rng.randrange(3)}"}
        item["at"] = {"N": str(rng.randrange(40))}  # equal sort keys: the table key breaks the tie
    if rng.random() < 0.7:
        item["state"] = {"S": rng.choice(["new", "done"])}
    return item


def _key(item: dict[str, Any]) -> dict[str, Any]:
    return {"pk": item["pk"], "sk": item["sk"]}


def _write(ddb: Any, table: str, rng: random.Random) -> Any:
    """One random write: put, conditional update (moving items between index partitions), delete, batch, or a
    transaction that is cancelled about half the time."""
    roll, item = rng.random(), _item(rng)
    if roll < 0.35:
        return ddb.put_item(TableName=table, Item=item)
    if roll < 0.55:
        return ddb.update_item(
            TableName=table,
            Key=_key(item),
            UpdateExpression="SET #o = :o, #a = :a, #s = :s REMOVE flag",
            ConditionExpression="attribute_not_exists(#s) OR #s <> :never",
            ExpressionAttributeNames={"#o": "owner", "#a": "at", "#s": "state"},
            ExpressionAttributeValues={
                ":o": {"S": f"o{rng.randrange(3)}"},
                ":a": {"N": str(rng.randrange(40))},
                ":s": {"S": rng.choice(["new", "done"])},
                ":never": {"S": "never"},
            },
        )
    if roll < 0.65:
        return ddb.delete_item(TableName=table, Key=_key(item))
    if roll < 0.75:
        puts = {str(_key(i)): {"PutRequest": {"Item": i}} for i in (_item(rng) for _ in range(5))}
        return ddb.batch_write_item(RequestItems={table: list(puts.values())})
    others = [_item(rng) for _ in range(2)]
    operations = [
        {"Put": {"TableName": table, "Item": {**others[0], "flag": {"BOOL": True}}}},
        {"Delete": {"TableName": table, "Key": _key(others[1])}},
        {
            "Update": {
                "TableName": table,
                "Key": _key(item),
                "UpdateExpression": "SET #s = :s, #o = :o, #a = :a",
                "ConditionExpression": "attribute_exists(pk)",  # fails when the item is absent: all undone
                "ExpressionAttributeNames": {"#s": "state", "#o": "owner", "#a": "at"},
                "ExpressionAttributeValues": {":s": {"S": "moved"}, ":o": {"S": "o9"}, ":a": {"N": "7"}},
            }
        },
    ]
    if len({str(_key(others[0])), str(_key(others[1])), str(_key(item))}) < 3:
        operations = operations[:1]
    try:
        return ddb.transact_write_items(TransactItems=operations)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response.get("CancellationReasons")


def _pages(ddb: Any, **query: Any) -> list[Any]:
    """Every page of a Query, following LastEvaluatedKey."""
    pages, start = [], None
    while True:
        page = ddb.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        pages.append((page["Items"], page["Count"], page["ScannedCount"], page.get("LastEvaluatedKey")))
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


def _asked(condition: str, values: dict[str, Any], index: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Query's parameters: `#name` placeholders stand for attribute names, `:name` values are `values`."""
    names = {f"#{n}": n for n in ("owner", "at", "state", "size") if f"#{n}" in condition + str(extra)}
    asked = {"KeyConditionExpression": condition, "ExpressionAttributeValues": {f":{k}": v for k, v in values.items()}}
    asked.update({"IndexName": index} if index else {}, **({"ExpressionAttributeNames": names} if names else {}))
    return {**asked, **extra}


def _queries(ddb: Any, table: str) -> list[Any]:
    """The table, the local index and both global indexes, forwards and backwards, with key conditions,
    filters, Limit pages and projections."""
    s, n = (lambda text: {"S": text}), (lambda number: {"N": str(number)})
    asked = [
        _asked("pk = :p", {"p": s("p1")}),
        _asked(
            "pk = :p AND sk BETWEEN :a AND :b",
            {"p": s("p2"), "a": s("s05"), "b": s("s20")},
            Limit=3,
            ScanIndexForward=False,
        ),
        _asked(
            "pk = :p AND begins_with(sk, :b)",
            {"p": s("p0"), "b": s("s1")},
            Limit=4,
            FilterExpression="attribute_exists(#state)",
        ),
        _asked("#owner = :o", {"o": s("o1")}, "by_owner", Limit=5),
        _asked(
            "#owner = :o AND #at > :a",
            {"o": s("o2"), "a": n(10), "s": s("done")},
            "by_owner",
            Limit=4,
            FilterExpression="#state = :s",
            ProjectionExpression="pk, sk, #at",
            ScanIndexForward=False,
        ),
        _asked("#owner = :o", {"o": s("o9")}, "by_owner"),
        _asked("#state = :s", {"s": s("new")}, "by_state", Limit=7),
        _asked("pk = :p AND #size < :z", {"p": s("p3"), "z": n(30)}, "by_size", Limit=6, ScanIndexForward=False),
    ]
    return [_pages(ddb, TableName=table, **q) for q in asked]


def _workload(ddb: Any, table: str) -> list[Any]:
    """Seeded writes with every query asked after each tenth: the answers, in order."""
    rng = random.Random(20261128)
    ddb.create_table(**_schema(table))
    answers: list[Any] = []
    for n in range(400):
        outcome = _write(ddb, table, rng)
        if isinstance(outcome, tuple):
            answers.append(outcome)
        if n % 10 == 9:
            answers.append(_queries(ddb, table))
    return answers


@pytest.fixture
def patchable(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Applies the emulator's DynamoDB patch in this process, undone after the test."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    from local import moto_server

    for owner, name in (
        (Table, "query"),
        (Table, "put_item"),
        (Table, "delete_item"),
        (models.DynamoDBBackend, "update_item"),
        (models.DynamoDBBackend, "transact_write_items"),
        (models, "copy"),
    ):
        monkeypatch.setattr(owner, name, getattr(owner, name))
    return moto_server.read_partitions


def _on_both(emulator: Any, workload: Callable[[Any, str], list[Any]]) -> tuple[list[Any], list[Any]]:
    """The workload's answers from the emulator (patched) and from moto in this process (unpatched)."""
    from moto import mock_aws

    ddb = boto3.client("dynamodb", endpoint_url=emulator.endpoint, region_name="us-east-1")
    table = f"partitions-{uuid.uuid4().hex[:8]}"
    try:
        patched = workload(ddb, table)
    finally:
        ddb.delete_table(TableName=table)
    with mock_aws():
        return patched, workload(boto3.client("dynamodb", region_name="us-east-1"), "reference")


def test_the_emulator_answers_queries_and_transactions_as_moto_does_without_its_patch(emulator) -> None:
    patched, reference = _on_both(emulator, _workload)
    cancelled = [a for a in reference if a and a[0] == "TransactionCanceledException"]
    pages = sum(len(q) for a in reference if isinstance(a, list) for q in a)
    assert len(cancelled) > 5 and pages > 500  # the workload exercises what it claims to
    assert patched == reference


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts moto's key comparisons (its sorts) and item copies."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    counts = {"comparisons": 0, "copies": 0}
    compare, deepcopy = DynamoType.__lt__, Item.__deepcopy__

    def counted_compare(self: Any, other: Any) -> bool:
        counts["comparisons"] += 1
        return compare(self, other)

    def counted_deepcopy(self: Any, memo: Any) -> Any:
        counts["copies"] += 1
        return deepcopy(self, memo)

    monkeypatch.setattr(DynamoType, "__lt__", counted_compare)
    monkeypatch.setattr(Item, "__deepcopy__", counted_deepcopy)
    return counts


def _cost_per_request(ddb: Any, counts: dict[str, int], items: int) -> dict[str, tuple[int, int]]:
    """(comparisons, copies) of a table Query, an index Query and a transaction, in a table of `items` items
    (the measured partitions hold 3 items whatever the table's size)."""
    table = f"cost{items}"
    ddb.create_table(**_schema(table))
    for n in range(items):
        partition = "measured" if n < 3 else f"other{n % 50}"
        item = {"pk": {"S": partition}, "sk": {"S": f"{n:05d}"}, "size": {"N": str(n)}}
        item.update({"owner": {"S": partition}, "at": {"N": str(n % 7)}, "state": {"S": partition}})
        ddb.put_item(TableName=table, Item=item)
    key = {"pk": {"S": "measured"}, "sk": {"S": "00001"}}
    requests: dict[str, Callable[[], Any]] = {
        "table query": lambda: ddb.query(
            TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "measured"}}
        ),
        "index query": lambda: ddb.query(
            TableName=table,
            IndexName="by_owner",
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": "measured"}},
        ),
        "transaction": lambda: ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": key,
                        "UpdateExpression": "SET seen = :t",
                        "ExpressionAttributeValues": {":t": {"BOOL": True}},
                    }
                }
            ]
        ),
    }
    cost = {}
    for name, request in requests.items():
        request()  # a first Query may build the index's partitions
        before = dict(counts)
        answer = request()
        assert name == "transaction" or answer["Count"] == 3
        cost[name] = (counts["comparisons"] - before["comparisons"], counts["copies"] - before["copies"])
    return cost


def _measured(counts: dict[str, int]) -> Iterator[dict[str, tuple[int, int]]]:
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        yield _cost_per_request(ddb, counts, SMALL)
        yield _cost_per_request(ddb, counts, LARGE)


def test_a_query_or_transaction_costs_the_same_in_a_table_ten_times_larger(patchable, counted) -> None:
    """Unpatched, moto's cost per request grows with the table: each Query sorts it whole and each transaction
    copies it whole (measured: ~10x the comparisons and copies for 10x the items)."""
    patchable()
    small, large = _measured(counted)
    print(f"{SMALL:,} items: {small}; {LARGE:,} items: {large}")
    assert large == small, f"{SMALL:,} items: {small}; {LARGE:,} items: {large}"
    assert all(copies <= 3 for _, copies in large.values()), large


def _hash_only_workload(ddb: Any, table: str) -> list[Any]:
    """A table keyed by its hash key alone (moto keeps {hash: item}), with a global index: items move between
    index partitions by update, delete and a cancelled transaction."""
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "owner")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_owner",
                "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    for n in range(30):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{n:02d}"}, "owner": {"S": f"o{n % 3}"}})
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "k04"}},
        UpdateExpression="SET #o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": "o0"}},
    )
    ddb.delete_item(TableName=table, Key={"pk": {"S": "k03"}})
    answers: list[Any] = []
    try:
        ddb.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": table, "Key": {"pk": {"S": "k06"}}}},
                {"Put": {"TableName": table, "Item": {"pk": {"S": "k07"}, "owner": {"S": "o2"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "absent"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as error:
        answers.append(error.response["Error"]["Code"])
    for owner in ("o0", "o1", "o2"):
        index = _asked("#owner = :o", {"o": {"S": owner}}, "by_owner", Limit=4)
        answers.append(_pages(ddb, TableName=table, **index))
    for key in ("k00", "k03", "k06", "k07"):
        answers.append(_pages(ddb, TableName=table, **_asked("pk = :p", {"p": {"S": key}})))
    return answers


def test_a_table_keyed_by_its_hash_key_alone_answers_as_moto_does_without_the_patch(emulator) -> None:
    patched, reference = _on_both(emulator, _hash_only_workload)
    assert reference[0] == "TransactionCanceledException" and len(reference[1][0][0]) == 4
    assert patched == reference
