"""The cost bench's DynamoDB capacity units follow the Developer Guide's sizing and index rules."""

from __future__ import annotations

from typing import Any

from bench.capacity import Index, Schema, item_size, read_units, write_cost

SCHEMA = Schema(
    table_keys=("pk", "sk"),
    indexes=(
        Index("everything", ("g1pk", "g1sk"), "ALL"),
        Index("summary", ("g2pk", "g2sk"), "INCLUDE", ("status",)),
        Index("keys", ("g3pk", "g3sk"), "KEYS_ONLY"),
    ),
)


def s(text: str) -> dict[str, Any]:
    return {"S": text}


def base(**extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"pk": s("DOC#1"), "sk": s("DOC"), **extra}


def test_sizes_count_names_and_values_as_the_guide_says() -> None:
    assert item_size({"pk": s("abc")}) == 2 + 3
    assert item_size({"n": {"N": "123.450"}}) == 1 + 3 + 1  # 12345: three bytes for five digits, plus one
    assert item_size({"n": {"N": "-0.001"}}) == 1 + 1 + 1
    assert item_size({"ok": {"BOOL": True}, "no": {"NULL": True}}) == 2 + 1 + 2 + 1
    assert item_size({"l": {"L": [s("ab"), s("c")]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"m": {"M": {"key": s("v")}}}) == 1 + 3 + (1 + 3 + 1)
    assert item_size({"é": s("ü")}) == 2 + 2  # UTF-8 bytes


def test_a_new_item_costs_a_unit_per_started_kilobyte_plus_one_per_index_it_enters() -> None:
    item = base(g1pk=s("a"), g1sk=s("b"), g2pk=s("c"), g2sk=s("d"), body=s("x" * 1500))
    cost = write_cost(SCHEMA, None, item)
    assert cost.table == 2
    assert cost.indexes == {"everything": 2, "summary": 1}  # the ALL index holds the body, INCLUDE does not
    assert cost.total == 5


def test_changing_an_index_key_costs_a_delete_and_a_put() -> None:
    before = base(g3pk=s("DEADLINE#PENDING"), g3sk=s("1"))
    after = base(g3pk=s("DEADLINE#PROCESSING"), g3sk=s("2"))
    assert write_cost(SCHEMA, before, after).indexes == {"keys": 2}


def test_leaving_an_index_costs_one_write_and_staying_out_costs_nothing() -> None:
    before = base(g3pk=s("x"), g3sk=s("1"), note=s("a"))
    after = base(note=s("b"))
    assert write_cost(SCHEMA, before, after).indexes == {"keys": 1}
    assert write_cost(SCHEMA, after, base(note=s("c"))).indexes == {}


def test_an_index_pays_only_when_its_projection_changes() -> None:
    before = base(g2pk=s("p"), g2sk=s("q"), g3pk=s("x"), g3sk=s("1"), status=s("PENDING"), body=s("a"))
    body_only = {**before, "body": s("b")}
    status = {**before, "status": s("PROCESSED")}
    assert write_cost(SCHEMA, before, body_only).indexes == {}  # neither INCLUDE nor KEYS_ONLY holds the body
    assert write_cost(SCHEMA, before, status).indexes == {"summary": 1}


def test_an_update_is_charged_on_the_larger_of_the_item_before_and_after() -> None:
    big, small = base(body=s("x" * 3000)), base()
    assert write_cost(SCHEMA, big, small).table == 3
    assert write_cost(SCHEMA, small, big).table == 3


def test_a_failed_conditional_write_costs_the_existing_item_and_touches_no_index() -> None:
    existing = base(g1pk=s("a"), g1sk=s("b"), body=s("x" * 2100))
    cost = write_cost(SCHEMA, existing, existing, succeeded=False)
    assert (cost.table, cost.indexes) == (3, {})
    assert write_cost(SCHEMA, None, None, succeeded=False).table == 1


def test_reads_round_to_four_kilobytes_once_per_request_or_per_item_in_a_batch() -> None:
    assert read_units([100, 100, 100], consistent=True) == 1.0
    assert read_units([3000, 3000], consistent=False) == 1.0  # 6000 bytes: two 4 KB units, halved
    assert read_units([3000, 3000], consistent=False, each=True) == 1.0
    assert read_units([100, 100, 100], consistent=False, each=True) == 1.5
    assert read_units([], consistent=False) == 0.5  # an empty query still costs its minimum
