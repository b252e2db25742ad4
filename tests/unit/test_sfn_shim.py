"""The emulator's Step Functions shim does what the AWS documentation says, and refuses what it cannot do."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from local.sfn_shim import MapExtras, ShimError, _over_threshold, batches, listed_item, payload, strip_definition


def definition(map_state: dict) -> str:
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED"},
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "End": True}},
    }
    return json.dumps(
        {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": True, **map_state}}}
    )


def test_item_batcher_is_taken_out_for_the_emulator_and_kept_for_the_map_run() -> None:
    text, extras = strip_definition(
        definition(
            {"ItemBatcher": {"MaxItemsPerBatch": 3, "BatchInput": {"run.$": "$.run"}}, "ToleratedFailurePercentage": 5}
        )
    )
    state = json.loads(text)["States"]["M"]
    assert "ItemBatcher" not in state and state["ToleratedFailurePercentage"] == 5.0
    assert extras["M"] == MapExtras(3, None, {"run.$": "$.run"}, True, 5.0, None)


def test_maps_nested_in_parallel_branches_and_item_processors_are_found() -> None:
    inner = {
        "Type": "Map",
        "ItemBatcher": {"MaxItemsPerBatch": 2},
        "ItemProcessor": {"StartAt": "X", "States": {}},
        "End": True,
    }
    text = json.dumps(
        {
            "StartAt": "P",
            "States": {
                "P": {"Type": "Parallel", "Branches": [{"StartAt": "Inner", "States": {"Inner": inner}}], "End": True}
            },
        }
    )
    _, extras = strip_definition(text)
    assert extras["Inner"].max_items == 2


@pytest.mark.parametrize(
    "map_state",
    [
        {"ItemBatcher": {"MaxItemsPerBatchPath": "$.n"}},
        {"ItemBatcher": {"MaxItemsPerBatch": 2}, "ItemSelector": {"k.$": "$$.Map.Item.Value"}},
    ],
)
def test_what_the_shim_cannot_run_is_refused(map_state: dict) -> None:
    with pytest.raises(ShimError):
        strip_definition(definition(map_state))


def test_batches_respect_the_item_count_and_the_byte_limit() -> None:
    items = [{"Key": f"k{i}", "pad": "x" * 40} for i in range(10)]
    by_count = batches(items, MapExtras(max_items=4, batching=True), {"run": "r"})
    assert [len(b["Items"]) for b in by_count] == [4, 4, 2] and by_count[0]["BatchInput"] == {"run": "r"}
    one = len(json.dumps(items[0])) + 1
    by_bytes = batches(items, MapExtras(max_items=100, max_bytes=3 * one, batching=True), None)
    assert [len(b["Items"]) for b in by_bytes] == [3, 3, 3, 1] and "BatchInput" not in by_bytes[0]
    assert batches([], MapExtras(max_items=4, batching=True), None) == []


def test_batch_input_is_a_payload_template_over_the_state_input_and_context() -> None:
    template = {"run.$": "$.run", "kind": "missing", "nested": {"id.$": "$$.Execution.Id"}, "list": [1, "a"]}
    out = payload(template, {"run": "r1"}, {"Execution": {"Id": "arn:x"}})
    assert out == {"run": "r1", "kind": "missing", "nested": {"id": "arn:x"}, "list": [1, "a"]}
    with pytest.raises(ShimError):
        payload({"n.$": "States.ArrayLength($.items)"}, {"items": []}, {})


def test_tolerated_failures_follow_the_declared_thresholds() -> None:
    assert _over_threshold(1, 100, MapExtras())  # nothing tolerated when nothing is declared
    assert not _over_threshold(5, 100, MapExtras(tolerated_percentage=5.0))
    assert _over_threshold(6, 100, MapExtras(tolerated_percentage=5.0))
    assert not _over_threshold(2, 100, MapExtras(tolerated_count=2))
    assert _over_threshold(3, 100, MapExtras(tolerated_count=2, tolerated_percentage=50.0))


def test_listed_objects_have_the_documented_item_reader_shape() -> None:
    modified = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    item = listed_item(
        {"Key": "uploads/a", "ETag": '"abc"', "Size": 3, "LastModified": modified, "StorageClass": "STANDARD"}
    )
    assert item == {
        "Etag": '"abc"',
        "Key": "uploads/a",
        "LastModified": int(modified.timestamp()),
        "Size": 3,
        "StorageClass": "STANDARD",
    }
