"""The CSV records producer: streaming, formats, packing, row errors, continuation across legs."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.aws.records_store import COMPLETE, COMPLETE_WITH_ERRORS, RowError
from chalicelib.aws.sqs import SqsSender
from chalicelib.config import FanOutSettings
from chalicelib.csv_fanout import CsvFanOut
from chalicelib.csv_production import Continuation, FanOutResult, fan_out, first_leg, unique_columns
from chalicelib.extraction.lines import Lines
from chalicelib.records import RecordsConsumer, handle_batch
from tests.fakes import InMemoryRecordsStore
from tests.support import samples
from tests.support.clock import Ticks

DOC = "d" * 32


class ListSender:
    """Collects the bodies it is given, as SqsSender would send them."""

    def __init__(self, max_message_bytes: int = 256 * 1024, fail_after: int | None = None) -> None:
        self.max_message_bytes = max_message_bytes
        self.confirmed_row = 0
        self.requests = 0
        self.messages = 0
        self.bodies: list[str] = []
        self._fail_after = fail_after

    def add(self, body: str, last_row: int) -> None:
        assert len(body.encode()) <= self.max_message_bytes
        if self._fail_after is not None and len(self.bodies) >= self._fail_after:
            raise ConnectionError("queue unreachable")
        self.bodies.append(body)
        self.messages += 1
        self.confirmed_row = max(self.confirmed_row, last_row)

    def flush(self) -> None:
        self.requests += 1


class Pipeline:
    """Producer and consumer wired in memory: every message is delivered to the consumer."""

    def __init__(self, data: bytes, settings: FanOutSettings | None = None, max_message_bytes: int = 4096) -> None:
        self.data = data
        self.settings = settings or FanOutSettings()
        self.store = InMemoryRecordsStore()
        self.store.add_document(DOC)
        self.bodies: list[str] = []
        self.results: list[FanOutResult] = []
        self.max_message_bytes = max_message_bytes
        self.opened_at: list[int] = []

    def open_stream(self, offset: int) -> io.BytesIO:
        self.opened_at.append(offset)
        return io.BytesIO(self.data[offset:])

    def produce(self, deadline: float = 10**9, clock: Callable[[], float] | None = None, **leg: Any) -> FanOutResult:
        cont = first_leg(DOC, "bucket", "key.csv", "etag", len(self.data), self.data[:65536], **leg)
        self.store.begin(DOC, cont.run)
        return self._leg(cont, deadline, clock)

    def _leg(self, cont: Continuation, deadline: float, clock: Callable[[], float] | None) -> FanOutResult:
        sender = ListSender(self.max_message_bytes)
        kwargs = {"clock": clock} if clock else {}
        result = fan_out(cont, self.open_stream, sender, self.store, self.settings, deadline, **kwargs)
        self.results.append(result)
        self.bodies += sender.bodies
        return result

    def produce_in_legs(self, rows_per_leg: int) -> None:
        """Each leg stops after a few records; continuations are resumed until the end."""
        clock = Ticks()
        result = self.produce(deadline=rows_per_leg, clock=clock)
        while result.continuation is not None:
            message = json.loads(result.continuation.to_message())
            clock.now = 0.0
            result = self._leg(Continuation.from_message(message), rows_per_leg, clock)

    def consume(self, times: int = 1) -> dict[str, Any]:
        consumer = RecordsConsumer(self.store)
        rows = [b for b in self.bodies if json.loads(b)["type"] == "rows"]
        batch = [{"messageId": f"m{i}", "body": b} for i, b in enumerate(rows)] * times
        return handle_batch(consumer, batch)

    def stored(self) -> dict[int, dict[str, str | None]]:
        return {n: row.cells for (_, n), row in sorted(self.store.rows.items())}

    def rejected(self) -> dict[int, RowError]:
        return {n: e for (_, n), e in sorted(self.store.errors.items())}


def test_a_messy_csv_stores_exactly_the_right_rows_and_reports_the_bad_ones() -> None:
    pipe = Pipeline(samples.MESSY_CSV)
    result = pipe.produce()
    assert pipe.consume() == {"batchItemFailures": []}
    assert result.done and result.total == 5
    assert pipe.stored() == {
        1: {"name": "ann", "note": "two\r\nlines; and a semicolon", "amount": "150"},
        3: {"name": "cy", "note": 'say "hi"', "amount": "3"},
        5: {"name": "eve", "note": None, "amount": "5"},
    }
    assert pipe.rejected() == {
        2: RowError(2, 4, "expected 3 fields, found 2"),
        4: RowError(4, 7, "expected 3 fields, found 4"),
    }
    progress = pipe.store.progress(DOC)
    assert progress is not None
    assert (progress.state, progress.total, progress.written, progress.failed) == (COMPLETE_WITH_ERRORS, 5, 3, 2)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_unicode_files_with_a_byte_order_mark_decode_every_cell(codec: str) -> None:
    text = 'ville,prix,note\r\nZürich,12,"deux\r\nlignes €"\r\n東京,7,\r\n'
    pipe = Pipeline(codecs.BOM_UTF16_BE + text.encode("utf-16-be") if codec == "utf-16-be" else text.encode(codec))
    pipe.produce()
    pipe.consume()
    assert pipe.stored() == {
        1: {"ville": "Zürich", "prix": "12", "note": "deux\r\nlignes €"},
        2: {"ville": "東京", "prix": "7", "note": None},
    }


def test_a_latin_1_file_without_a_header_gets_numbered_columns() -> None:
    data = "1,Müller,Köln\n2,Gómez,São Paulo\n3,François,Besançon\n4,Ærø,Århus\n".encode("latin-1") * 10
    pipe = Pipeline(data)
    pipe.produce()
    pipe.consume()
    assert pipe.stored()[2] == {"column_1": "2", "column_2": "Gómez", "column_3": "São Paulo"}
    assert len(pipe.stored()) == 40


def test_a_tab_separated_file_is_split_on_tabs() -> None:
    pipe = Pipeline(b"a\tb\n1\t2,5\n3\t4\n")
    pipe.produce(prefer_tab=True)
    pipe.consume()
    assert pipe.stored() == {1: {"a": "1", "b": "2,5"}, 2: {"a": "3", "b": "4"}}


def test_a_field_over_the_csv_size_limit_is_a_row_error_and_reading_goes_on() -> None:
    data = b'k,v\n1,"' + b"x" * 200_000 + b'"\n2,ok\n'
    pipe = Pipeline(data)
    pipe.produce()
    pipe.consume()
    assert pipe.stored() == {2: {"k": "2", "v": "ok"}}
    assert "field larger than field limit" in pipe.rejected()[1].reason


def test_a_record_larger_than_the_cap_is_rejected_without_being_held_whole() -> None:
    settings = FanOutSettings(max_record_bytes=4096, read_block=1024)
    data = b"key,value\n1,fine\n2," + b"y" * 50_000 + b"\n3,also fine\n"
    pipe = Pipeline(data, settings)
    result = pipe.produce()
    pipe.consume()
    assert pipe.rejected() == {2: RowError(2, 3, "record longer than 4096 bytes")}
    assert result.total == 3
    assert pipe.stored() == {1: {"key": "1", "value": "fine"}, 3: {"key": "3", "value": "also fine"}}


def progress_of(pipe: Pipeline) -> tuple[Any, ...]:
    progress = pipe.store.progress(DOC)
    assert progress is not None
    return (progress.state, progress.total, progress.written, progress.failed)


@pytest.mark.parametrize("size", [50_000, 5_000_000], ids=["12x the cap", "1200x the cap"])
def test_a_single_row_far_over_the_cap_is_one_failed_row_and_the_counts_are_true(size: int) -> None:
    settings = FanOutSettings(max_record_bytes=4096, read_block=1024)
    data = b"key,value\n1,fine\n2," + b"y" * size + b"\n3,also fine\n"
    pipe = Pipeline(data, settings)
    pipe.produce()
    assert pipe.consume() == {"batchItemFailures": []}
    assert pipe.rejected() == {2: RowError(2, 3, "record longer than 4096 bytes")}
    assert progress_of(pipe) == (COMPLETE_WITH_ERRORS, 3, 2, 1)


def test_a_first_record_over_the_cap_is_one_failed_row_and_the_records_still_finish() -> None:
    settings = FanOutSettings(max_record_bytes=4096, read_block=1024)
    data = b"h" * 200_000 + b"\n1,a\n2,b\n"
    pipe = Pipeline(data, settings)
    pipe.produce()
    assert pipe.consume() == {"batchItemFailures": []}
    assert pipe.rejected() == {1: RowError(1, 1, "record longer than 4096 bytes")}
    assert pipe.stored() == {2: {"column_1": "1", "column_2": "a"}, 3: {"column_1": "2", "column_2": "b"}}
    assert progress_of(pipe) == (COMPLETE_WITH_ERRORS, 3, 2, 1)


def test_a_file_that_is_one_line_over_the_cap_finishes_with_one_failed_row() -> None:
    pipe = Pipeline(b"z" * 300_000, FanOutSettings(max_record_bytes=4096, read_block=1024))
    pipe.produce()
    assert pipe.consume() == {"batchItemFailures": []}
    assert progress_of(pipe) == (COMPLETE_WITH_ERRORS, 1, 0, 1)


def test_a_quoted_field_of_many_lines_over_the_cap_is_one_failed_row() -> None:
    settings = FanOutSettings(max_record_bytes=4096, read_block=1024)
    data = b'k,v\n1,ok\n2,"' + b"a line, with a comma\n" * 2000 + b'"\n3,"also ""ok"""\n'
    pipe = Pipeline(data, settings)
    pipe.produce()
    assert pipe.consume() == {"batchItemFailures": []}
    assert pipe.rejected() == {2: RowError(2, 3, "record longer than 4096 bytes")}
    assert pipe.stored() == {1: {"k": "1", "v": "ok"}, 3: {"k": "3", "v": 'also "ok"'}}
    assert progress_of(pipe) == (COMPLETE_WITH_ERRORS, 3, 2, 1)


def test_a_huge_line_without_a_newline_is_skipped_as_one_line_in_bounded_memory() -> None:
    lines = Lines(iter([b"a" * 1000] * 50 + [b"\nb\n"]), 0, "utf-8", max_record_bytes=4096)
    texts = []
    for text in lines:
        texts.append((len(text), lines.oversized, lines.consumed))
        lines.record_done()
    assert texts == [(csv.field_size_limit() + 2, True, 50_001), (2, False, 50_003)]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-32-be"])
def test_a_huge_wide_line_is_skipped_on_aligned_units(codec: str) -> None:
    data = ("é" * 30_000 + "\nnext\n").encode(codec)
    blocks = iter([data[i : i + 999] for i in range(0, len(data), 999)])  # blocks that split code units
    lines = Lines(blocks, 0, codec, max_record_bytes=4096)
    seen = []
    for text in lines:
        seen.append(None if lines.oversized else text)
        lines.record_done()
    assert seen == [None, "next\n"] and lines.consumed == len(data)


def test_line_ends_split_across_blocks_are_joined() -> None:
    data = b"a,b\r\n1,2\r3,4\n5,6"
    blocks = iter([data[i : i + 4] for i in range(0, len(data), 4)])
    lines = Lines(blocks, 0, "utf-8", 1 << 20)
    assert list(lines) == ["a,b\r\n", "1,2\r", "3,4\n", "5,6"]
    assert lines.consumed == len(data)


def test_utf16_lines_are_cut_on_aligned_units_only() -> None:
    text = "\u0a0d,\u0d0a\r\nx,y\n"  # code units whose bytes look like CR/LF
    lines = Lines(iter([text.encode("utf-16-le")]), 0, "utf-16-le", 1 << 20)
    assert list(lines) == ["\u0a0d,\u0d0a\r\n", "x,y\n"]


def test_rows_are_packed_many_to_a_message_within_the_size_limit() -> None:
    data = b"id,text\n" + b"".join(b"%d,some text for row %d\n" % (i, i) for i in range(1, 5001))
    pipe = Pipeline(data, max_message_bytes=8192)
    pipe.produce()
    assert all(len(b.encode()) <= 8192 for b in pipe.bodies)
    assert len(pipe.bodies) < 5000 / 100
    pipe.consume()
    assert len(pipe.stored()) == 5000 and pipe.stored()[4321] == {"id": "4321", "text": "some text for row 4321"}


def test_every_message_names_its_document_run_chunk_and_rows() -> None:
    pipe = Pipeline(b"a\n" + b"x\n" * 3000, max_message_bytes=2048)
    pipe.produce()
    messages = [json.loads(b) for b in pipe.bodies]
    assert [m["chunk"] for m in messages] == list(range(len(messages)))
    assert all(m["doc_id"] == DOC and m["run"] == pipe.results[0].run for m in messages)
    firsts = [m["first_row"] for m in messages]
    assert firsts[0] == 1 and all(
        b - a == len(m["rows"]) for a, b, m in zip(firsts, firsts[1:], messages, strict=False)
    )


def test_duplicate_delivery_of_every_message_writes_and_counts_each_row_once() -> None:
    data = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i * i) for i in range(2000))
    pipe = Pipeline(data, max_message_bytes=2048)
    pipe.produce()
    assert pipe.consume(times=3) == {"batchItemFailures": []}
    progress = pipe.store.progress(DOC)
    assert progress is not None and (progress.state, progress.written, progress.total) == (COMPLETE, 2000, 2000)
    assert pipe.store.row_writes == 2000


def test_production_continues_across_legs_from_record_boundaries() -> None:
    rows = [f'{i},"line one\nline two {i}",é{i}\n' for i in range(1, 301)]
    data = ("id,text,other\n" + "".join(rows)).encode()
    one_go = Pipeline(data)
    one_go.produce()
    one_go.consume()
    in_legs = Pipeline(data, FanOutSettings(read_block=64))
    in_legs.produce_in_legs(rows_per_leg=7)
    in_legs.consume()
    assert len(in_legs.results) > 40
    assert in_legs.stored() == one_go.stored() and len(one_go.stored()) == 300
    assert all(data[offset - 1 : offset] == b"\n" for offset in in_legs.opened_at[1:])
    progress = in_legs.store.progress(DOC)
    assert progress is not None and progress.state == COMPLETE and progress.total == 300


def test_a_continuation_survives_its_message_round_trip() -> None:
    pipe = Pipeline("a;b\n1;2\n3;4\n".encode("utf-16"))
    clock = Ticks()
    result = pipe.produce(deadline=1, clock=clock)
    assert result.continuation is not None
    body = next(b for b in pipe.bodies if json.loads(b)["type"] == "continue")
    again = Continuation.from_message(json.loads(body))
    assert again == result.continuation and again.fmt.encoding.bom and again.columns == ["a", "b"]


@pytest.mark.parametrize("change", [{"offset": -1}, {"leg": 0}, {"fmt": {"encoding": {"name": "x"}}}, {"size": "big"}])
def test_a_tampered_continuation_is_refused(change: dict[str, Any]) -> None:
    pipe = Pipeline(b"a,b\n1,2\n3,4\n")
    result = pipe.produce(deadline=1, clock=Ticks())
    assert result.continuation is not None
    message = {**json.loads(result.continuation.to_message()), **change}
    with pytest.raises(ValueError):
        Continuation.from_message(message)


def test_an_empty_file_or_a_lone_header_completes_with_no_rows() -> None:
    for data in (b"", b"a,b,c\n"):
        pipe = Pipeline(data)
        result = pipe.produce()
        progress = pipe.store.progress(DOC)
        assert result.total == 0 and progress is not None and progress.state == COMPLETE


def test_too_many_bad_rows_stop_the_run_with_a_reason() -> None:
    data = b"a,b\n" + b"1\n" * 50 + b"1,2\n" * 10
    pipe = Pipeline(data, FanOutSettings(max_row_errors=20))
    result = pipe.produce()
    pipe.consume()
    progress = pipe.store.progress(DOC)
    assert result.error is not None and result.error["code"] == "too_many_errors"
    assert progress is not None and progress.state == COMPLETE_WITH_ERRORS and progress.total == 21


def test_a_failure_to_queue_ends_the_run_with_the_rows_already_sent() -> None:
    data = b"a\n" + b"x\n" * 3000
    pipe = Pipeline(data)
    store = pipe.store
    cont = first_leg(DOC, "b", "k", None, len(data), data)
    store.begin(DOC, cont.run)
    sender = ListSender(2048, fail_after=2)
    result = fan_out(cont, pipe.open_stream, sender, store, FanOutSettings(), 10**9)
    pipe.bodies = sender.bodies
    pipe.consume()
    progress = store.progress(DOC)
    assert result.error is not None and result.error["code"] == "production_failed"
    assert progress is not None and progress.state == COMPLETE_WITH_ERRORS
    assert progress.total == sender.confirmed_row == progress.written > 0


def test_characters_sqs_refuses_are_escaped_and_come_back_intact() -> None:
    pipe = Pipeline("name,n\n\uffff,1\n\x01,2\n".encode())
    pipe.produce()
    assert "\uffff" not in pipe.bodies[0]
    pipe.consume()
    assert pipe.stored() == {1: {"name": "\uffff", "n": "1"}, 2: {"name": "\x01", "n": "2"}}


def test_header_cells_become_unique_non_empty_column_names() -> None:
    assert unique_columns(["\ufeffid", " id ", "", "x" * 300]) == ["id", "id_2", "column_3", "x" * 255]


class FakeSqs:
    def __init__(self, transient_failures: int = 0) -> None:
        self.calls: list[list[dict[str, str]]] = []
        self.received: list[str] = []
        self._failures = transient_failures

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        assert len(Entries) <= 10 and sum(len(e["MessageBody"].encode()) for e in Entries) <= 1024 * 1024
        self.calls.append(Entries)
        failed = []
        for entry in Entries:
            if self._failures > 0:
                self._failures -= 1
                failed.append({"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"})
            else:
                self.received.append(entry["MessageBody"])
        return {"Successful": [], "Failed": failed}


def test_the_sqs_sender_fills_batches_up_to_ten_entries_and_one_mebibyte() -> None:
    sqs = FakeSqs()
    sender = SqsSender(sqs, "url", 256 * 1024, FanOutSettings(), sleep=lambda s: None)
    for i in range(25):
        sender.add("x" * 200_000, i + 1)
    sender.flush()
    assert [len(c) for c in sqs.calls] == [5] * 5 and sender.confirmed_row == 25 and sender.messages == 25


def test_the_sqs_sender_resends_entries_that_failed_for_a_while() -> None:
    sqs = FakeSqs(transient_failures=3)
    sender = SqsSender(sqs, "url", 1024, FanOutSettings(), sleep=lambda s: None)
    for i in range(4):
        sender.add(f"body {i}", i + 1)
    sender.flush()
    assert sorted(sqs.received) == [f"body {i}" for i in range(4)] and sender.requests == 2


def test_the_sqs_sender_refuses_a_message_over_the_queue_limit() -> None:
    sender = SqsSender(FakeSqs(), "url", 1024, FanOutSettings(), sleep=lambda s: None)
    with pytest.raises(ValueError):
        sender.add("x" * 2000, 1)


class FakeS3:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ranges: list[str | None] = []

    def get_object(self, Bucket: str, Key: str, Range: str | None = None, IfMatch: str | None = None) -> Any:
        self.ranges.append(Range)
        start = int(Range[6:-1]) if Range else 0
        return {"Body": io.BytesIO(self.data[start:])}


class QueueSqs(FakeSqs):
    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": f"url/{QueueName}"}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        return {"Attributes": {"MaximumMessageSize": "4096", "VisibilityTimeout": "30"}}


def test_the_service_starts_with_one_streaming_get_and_resumes_from_ranged_gets() -> None:
    data = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i * i) for i in range(500))
    s3, sqs, store = FakeS3(data), QueueSqs(), InMemoryRecordsStore()
    store.add_document(DOC)
    service = CsvFanOut(s3, sqs, "records", store, clock=Ticks())
    result = service.start(DOC, "bucket", "k.csv", len(data), "etag", deadline=50)
    assert s3.ranges == [None]
    offsets = []
    while result.continuation is not None:
        message = json.loads(result.continuation.to_message())
        offsets.append(result.continuation.offset)
        resumed = service.resume(message, deadline=10**9)
        assert resumed is not None and service.resume(message, deadline=10**9) is None  # a redelivery does nothing
        result = resumed
    assert len(offsets) > 5 and s3.ranges[1:] == [f"bytes={o}-" for o in offsets]
    consumer = RecordsConsumer(store, service.resume)
    rows = [b for b in sqs.received if '"type":"rows"' in b]
    assert handle_batch(consumer, [{"messageId": str(i), "body": b} for i, b in enumerate(rows)]) == {
        "batchItemFailures": []
    }
    progress = store.progress(DOC)
    assert progress is not None and (progress.state, progress.written) == (COMPLETE, 500)
