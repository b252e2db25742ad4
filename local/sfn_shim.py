"""Step Functions behaviour that AWS has and the emulator (moto 5.2.5) lacks, added to the emulator process.

moto runs state machines (once `stepfunctions.execute_state_machine` is on)
with an interpreter that covers most of the Amazon States Language, but not
all of what docpipe's backfill definition uses. Rather than keep a second,
emulator-only definition, the emulator process gets these patches, each
implementing what the AWS documentation specifies:

- `ItemBatcher` on a Distributed Map (MaxItemsPerBatch, MaxInputBytesPerBatch,
  BatchInput as a payload template): moto's grammar rejects the field. Each
  child execution receives `{"Items": [...], "BatchInput": {...}}`.
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html
- Failed child executions and `ToleratedFailurePercentage` /
  `ToleratedFailureCount`: moto's grammar accepts only a decimal percentage,
  and its Distributed Map treats a failed child execution as one that
  returned null, so a Map run never fails. Here the Map run fails with
  States.ExceedToleratedFailureThreshold once more items failed than
  tolerated (none, when neither field is set), and carries on otherwise.
  https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html
- The `s3:listObjectsV2` item reader: moto reads only the first 1,000 keys and
  fails on an empty prefix. Here every page is read, an empty listing is zero
  items, and each item has the documented shape (Etag, Key, LastModified,
  Size, StorageClass).
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html
- `ResultWriter` parameters: moto evaluates their paths against the Map's
  results instead of its input. Here they see the input, as on AWS. (moto
  writes only the run's manifest.json, not the result files; docpipe reads
  neither.)
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html

What is not emulated fails loudly (an intrinsic function inside BatchInput, a
`...Path` variant of these fields): the shim never guesses.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

_pending = threading.local()
_installed = False

MAX_BATCH_BYTES = 256 * 1024
"""Step Functions' payload limit, also the largest MaxInputBytesPerBatch."""


@dataclass(frozen=True)
class MapExtras:
    """What the shim keeps of one Map state's definition."""

    max_items: int | None = None
    max_bytes: int | None = None
    batch_input: Any = None
    batching: bool = False
    tolerated_percentage: float | None = None
    tolerated_count: int | None = None


class ShimError(ValueError):
    """A definition uses something neither moto nor this shim runs."""


# -- definitions ------------------------------------------------------------------


def strip_definition(definition: str) -> tuple[str, dict[str, MapExtras]]:
    """The definition moto's grammar accepts, and the extras taken out of it, by Map state name."""
    data = json.loads(definition)
    extras: dict[str, MapExtras] = {}
    _strip_states(data.get("States") or {}, extras)
    return json.dumps(data), extras


def _strip_states(states: dict[str, Any], extras: dict[str, MapExtras]) -> None:
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        if state.get("Type") == "Map":
            extra = _strip_map(state)
            if extra is not None:
                extras[name] = extra
            for nested in ("ItemProcessor", "Iterator"):
                _strip_states((state.get(nested) or {}).get("States") or {}, extras)
        for branch in state.get("Branches") or []:
            _strip_states(branch.get("States") or {}, extras)


def _strip_map(state: dict[str, Any]) -> MapExtras | None:
    for unsupported in ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"):
        if unsupported in (state.get("ItemBatcher") or {}):
            raise ShimError(f"the emulator shim does not run ItemBatcher.{unsupported}")
    batcher = state.pop("ItemBatcher", None)
    percentage = state.get("ToleratedFailurePercentage")
    count = state.get("ToleratedFailureCount")
    if batcher is None and percentage is None and count is None:
        return None
    if percentage is not None:
        state["ToleratedFailurePercentage"] = float(percentage)  # moto's grammar takes only a decimal
    if batcher is not None and "ItemSelector" in state:
        raise ShimError("the emulator shim does not run ItemSelector together with ItemBatcher")
    batcher = batcher or {}
    return MapExtras(
        max_items=batcher.get("MaxItemsPerBatch"),
        max_bytes=batcher.get("MaxInputBytesPerBatch"),
        batch_input=batcher.get("BatchInput"),
        batching=bool(batcher),
        tolerated_percentage=float(percentage) if percentage is not None else None,
        tolerated_count=int(count) if count is not None else None,
    )


# -- batching -----------------------------------------------------------------------


def batches(items: list[Any], extras: MapExtras, batch_input: Any) -> list[dict[str, Any]]:
    """Group items as ItemBatcher does: at most max_items per batch and max_bytes of JSON per batch."""
    max_items = extras.max_items or len(items) or 1
    max_bytes = min(extras.max_bytes or MAX_BATCH_BYTES, MAX_BATCH_BYTES)
    out: list[dict[str, Any]] = []
    current: list[Any] = []
    size = 0
    for item in items:
        item_bytes = len(json.dumps(item, default=str)) + 1
        if current and (len(current) >= max_items or size + item_bytes > max_bytes):
            out.append(_batch(current, batch_input))
            current, size = [], 0
        current.append(item)
        size += item_bytes
    if current:
        out.append(_batch(current, batch_input))
    return out


def _batch(items: list[Any], batch_input: Any) -> dict[str, Any]:
    batch: dict[str, Any] = {"Items": items}
    if batch_input is not None:
        batch["BatchInput"] = batch_input
    return batch


def payload(template: Any, state_input: Any, context: Any) -> Any:
    """A JSONPath payload template: keys ending in `.$` take a path into the input ($) or context ($$)."""
    from moto.stepfunctions.parser.asl.utils.json_path import extract_json

    if isinstance(template, list):
        return [payload(v, state_input, context) for v in template]
    if not isinstance(template, dict):
        return template
    out: dict[str, Any] = {}
    for key, value in template.items():
        if not key.endswith(".$"):
            out[key] = payload(value, state_input, context)
            continue
        if not isinstance(value, str) or not value.startswith("$"):
            raise ShimError(f"the emulator shim evaluates only JSONPath in BatchInput, not {value!r}")
        out[key[:-2]] = extract_json(value[1:], context) if value.startswith("$$") else extract_json(value, state_input)
    return out


# -- listing ----------------------------------------------------------------------


def listed_item(obj: dict[str, Any]) -> dict[str, Any]:
    """One object as the listObjectsV2 item reader hands it to the Map."""
    modified: Any = obj.get("LastModified")
    return {
        "Etag": obj.get("ETag"),
        "Key": obj["Key"],
        "LastModified": int(modified.timestamp()) if hasattr(modified, "timestamp") else modified,
        "Size": obj.get("Size"),
        "StorageClass": obj.get("StorageClass", "STANDARD"),
    }


# -- installation -----------------------------------------------------------------


def install() -> None:
    """Patch moto's Step Functions interpreter in this process (idempotent)."""
    global _installed
    if _installed:
        return
    _patch_parser()
    _patch_map_state()
    _patch_map_run()
    _patch_child_outcome()
    _patch_list_objects()
    _patch_result_writer()
    _installed = True


def _patch_parser() -> None:
    from moto.stepfunctions.parser.asl.parse import asl_parser

    original = asl_parser.AmazonStateLanguageParser.parse

    def parse(definition: str) -> Any:
        stripped, extras = strip_definition(definition)
        _pending.extras = extras
        try:
            return original(stripped)
        finally:
            _pending.extras = {}

    asl_parser.AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]


def _patch_map_state() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap

    original = StateMap.from_state_props

    def from_state_props(self: Any, state_props: Any) -> None:
        original(self, state_props)
        extras = (getattr(_pending, "extras", None) or {}).get(self.name)
        if extras is not None:
            self.iteration_component.docpipe_extras = extras

    StateMap.from_state_props = from_state_props  # type: ignore[method-assign]


def _patch_map_run() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as dic,
    )

    original = dic.DistributedIterationComponent._map_run

    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        extras: MapExtras | None = getattr(self, "docpipe_extras", None)
        if extras is None:
            original(self, env, eval_input)
            return
        _run_with_extras(self, env, eval_input, extras)

    dic.DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]


def _run_with_extras(component: Any, env: Any, eval_input: Any, extras: MapExtras) -> None:
    """moto's Map run, with ItemBatcher batches as the jobs and the tolerated failures honoured."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DEFAULT_MAX_CONCURRENCY_VALUE,
    )

    items = env.stack.pop()
    if extras.batching:
        context = env.states.context_object.context_object_data
        batch_input = payload(extras.batch_input, env.states.get_input(), context)
        items = batches(items, extras, batch_input if extras.batch_input is not None else None)
    pool = _tolerant_pool(component._get_iteration_program(), items, extras)
    max_concurrency = eval_input.map_run_record.max_concurrency
    workers = len(items) if max_concurrency == DEFAULT_MAX_CONCURRENCY_VALUE else max_concurrency
    for _ in range(min(workers, max(len(items), 1))):
        component._launch_worker(env=env, eval_input=eval_input, job_pool=pool)
    pool.await_jobs()
    if pool.exceeded:
        raise _threshold_failure(env)
    worker_exception = pool.get_worker_exception()
    if worker_exception is not None:
        raise worker_exception
    env.stack.append([closed.job_output for closed in pool.get_closed_jobs()])


def _tolerant_pool(program: Any, items: list[Any], extras: MapExtras) -> Any:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobClosed, JobPool

    total_items = sum(_item_count(i, extras) for i in items)

    class TolerantJobPool(JobPool):
        exceeded = False
        failed_items = 0

        def close_job(self, job: Any) -> None:
            failure = getattr(job, "docpipe_failure", None)
            if failure is None and not isinstance(job.job_output, Exception):
                super().close_job(job)
                return
            failure = failure or {"Error": type(job.job_output).__name__, "Cause": str(job.job_output)}
            with self._mutex:
                if self._is_terminated():
                    return
                self.failed_items += _item_count(job.job_input, extras)
                if _over_threshold(self.failed_items, total_items, extras):
                    self.exceeded = True
                    self._worker_exception = RuntimeError(failure["Cause"])
                else:
                    self._closed_jobs.add(JobClosed(job_index=job.job_index, job_output=failure))
                self._notify_on_termination()

    return TolerantJobPool(job_program=program, job_inputs=items)


def _item_count(job_input: Any, extras: MapExtras) -> int:
    if extras.batching and isinstance(job_input, dict) and isinstance(job_input.get("Items"), list):
        return len(job_input["Items"])
    return 1


def _over_threshold(failed: int, total: int, extras: MapExtras) -> bool:
    """AWS: the Map run fails once failures exceed the tolerated count or percentage (0 of each if unset)."""
    count = extras.tolerated_count or 0
    percentage = extras.tolerated_percentage or 0.0
    by_count = extras.tolerated_count is not None and failed > count
    by_share = total > 0 and failed * 100.0 / total > percentage
    if extras.tolerated_count is not None and extras.tolerated_percentage is None:
        return by_count
    if extras.tolerated_percentage is not None and extras.tolerated_count is None:
        return by_share
    return by_count or by_share


def _threshold_failure(env: Any) -> Exception:
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    name = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
    cause = "The specified tolerated failure threshold was exceeded"
    event = FailureEvent(
        env=env,
        error_name=name,
        event_type=HistoryEventType.MapRunFailed,
        event_details=EventDetails(  # type: ignore[typeddict-item]
            mapRunFailedEventDetails=MapRunFailedEventDetails(error=name.error_name, cause=cause)
        ),
    )
    return FailureEventException(failure_event=event)


def _patch_list_objects() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import resource_eval_s3

    reader = resource_eval_s3.ResourceEvalS3

    def _handle_list_objects_v2(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        s3 = reader._get_s3_client(resource_runtime_part=resource_runtime_part, state_credentials=state_credentials)
        parameters = dict(env.stack.pop())
        items: list[dict[str, Any]] = []
        while True:
            page = s3.list_objects_v2(**parameters)
            items += [listed_item(obj) for obj in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                break
            parameters["ContinuationToken"] = page["NextContinuationToken"]
        env.stack.append(items)

    reader._handle_list_objects_v2 = staticmethod(_handle_list_objects_v2)  # type: ignore[method-assign]


def _patch_result_writer() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.result_writer_decl import (
        ResultWriter,
    )

    def _eval_body(self: Any, env: Any) -> None:
        results = env.stack.pop()
        env.stack.append(env.states.get_input())  # parameter paths read the Map's input
        self.parargs.eval(env=env)
        parameters = env.stack.pop()
        env.stack.pop()
        env.stack.append(results)
        env.stack.append(parameters)
        self.resource_eval.eval_resource(env=env)

    ResultWriter._eval_body = _eval_body  # type: ignore[method-assign]


def _patch_child_outcome() -> None:
    """Mark a child execution that did not end successfully, so the Map run can count it as failed."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as worker,
    )
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError, ProgramStopped

    original = worker.DistributedItemProcessorWorker._eval_job

    def _eval_job(self: Any, env: Any, job: Any) -> None:
        original(self, env, job)
        state = env.program_state()
        if isinstance(state, (ProgramEnded, ProgramStopped)) and not isinstance(job.job_output, Exception):
            return
        if isinstance(state, ProgramError) and state.error:
            job.docpipe_failure = {"Error": state.error.get("error"), "Cause": state.error.get("cause")}
        else:
            job.docpipe_failure = {
                "Error": "States.Runtime",
                "Cause": f"child execution ended as {type(state).__name__}",
            }

    worker.DistributedItemProcessorWorker._eval_job = _eval_job  # type: ignore[method-assign]
