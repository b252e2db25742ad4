"""The one backfill state machine definition (in infra/docpipe.yaml) agrees with the code around it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chalicelib.aws.table import backfill_key
from chalicelib.backfill_worker import Batch
from chalicelib.models import COUNTERS, RunStatus
from local.backfill_machine import definition

ASL = json.loads(definition())


def states_of(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return machine["States"]


def all_states(machine: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, state in states_of(machine).items():
        out.append((name, state))
        if "ItemProcessor" in state:
            out += all_states(state["ItemProcessor"])
    return out


def maps() -> list[dict[str, Any]]:
    return [s for _, s in all_states(ASL) if s["Type"] == "Map"]


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


@pytest.mark.parametrize(
    "machine", [ASL, *[m["ItemProcessor"] for m in [s for _, s in all_states(ASL) if s["Type"] == "Map"]]]
)
def test_every_state_is_reachable_and_every_transition_lands_on_a_state(machine: dict[str, Any]) -> None:
    states = states_of(machine)
    seen, todo = set(), [machine["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        assert name in states, name
        seen.add(name)
        state = states[name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        todo += [t for t in targets if t]
    assert seen == set(states)


def test_work_is_handed_over_through_sqs_with_a_task_token_never_by_invoking_lambda() -> None:
    resources = [s.get("Resource", "") for _, s in all_states(ASL)]
    assert not [r for r in resources if "lambda" in r]
    handovers = [
        s for _, s in all_states(ASL) if s.get("Resource") == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    ]
    assert len(handovers) == 2
    for state in handovers:
        body = state["Parameters"]["MessageBody"]
        assert {k.removesuffix(".$") for k in body} == {"run", "kind", "items", "token"}
        assert body["token.$"] == "$$.Task.Token" and state["TimeoutSeconds"] > 0
    sample = {"run": "r", "kind": "missing", "items": [], "token": "t"}
    assert Batch.parse(sample).run_id == "r"


def test_both_maps_are_distributed_batched_bounded_and_tolerant() -> None:
    assert len(maps()) == 2
    for state in maps():
        assert state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
        assert 1 <= state["ItemBatcher"]["MaxItemsPerBatch"] <= 100
        assert state["ItemBatcher"]["MaxInputBytesPerBatch"] <= 256 * 1024
        assert state["MaxConcurrencyPath"] == "$.max_concurrency"
        assert 0 < state["ToleratedFailurePercentage"] < 100
        assert state["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"  # results never in the payload
    readers = sorted(m["ItemReader"]["Resource"] for m in maps())
    assert readers == ["arn:aws:states:::s3:getObject", "arn:aws:states:::s3:listObjectsV2"]


def test_the_run_record_it_writes_is_the_one_the_app_reads() -> None:
    updates = [
        s["Parameters"] for _, s in all_states(ASL) if s.get("Resource") == "arn:aws:states:::dynamodb:updateItem"
    ]
    assert updates
    run_key = backfill_key("RUN_ID")
    for params in updates:
        key = params["Key"]
        assert key["sk"] == {"S": run_key["sk"]}
        pk = key["pk"]["S.$"]
        assert re.fullmatch(r"States\.Format\('BACKFILL#\{\}', \$(\.BatchInput)?\.run\)", pk)
        assert run_key["pk"] == "BACKFILL#RUN_ID"
        added = re.findall(r"ADD (\w+)", params["UpdateExpression"])
        assert set(added) <= set(COUNTERS)
    statuses = {v["S"] for p in updates for v in p.get("ExpressionAttributeValues", {}).values() if "S" in v}
    assert statuses <= {s.value for s in RunStatus}


def test_the_execution_input_it_reads_is_what_planning_sends() -> None:
    top_level = [s for name, s in states_of(ASL).items()]
    roots = set()
    for state in top_level:
        for text in strings({k: v for k, v in state.items() if k != "ItemProcessor"}):
            roots |= set(re.findall(r"(?<!\$)\$\.(\w+)", text))
    roots -= {"error", "BatchInput", "Items"}
    assert roots == {"run", "table", "queue", "bucket", "max_concurrency", "missing", "stale"}


def test_the_emulator_accepts_the_definition() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from local import sfn_shim

    sfn_shim.install()
    program, _ = AmazonStateLanguageParser.parse(definition())
    assert program is not None
