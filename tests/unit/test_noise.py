"""A damaged file's parser chatter becomes one log line per file; no message shows an object's address."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.bounds import Limits
from chalicelib.extraction.noise import KEEP, Noise, plain
from chalicelib.extraction.sandbox import run_bounded

FAST = Limits(wall_seconds=10.0, cpu_seconds=10.0)


def chatter(records: int = 30_000, warned: int = 40) -> str:
    library = logging.getLogger("somelib.reader")  # a parsing library's logger, as pypdf's are
    for n in range(records):
        library.warning("Ignoring wrong pointing object %d 0 (offset 0)", n)
    for n in range(warned):
        warnings.warn(f"Multiple definitions in dictionary {n}", UserWarning, stacklevel=1)
    logging.getLogger("docpipe.extract").warning("our own line")
    return "done"


class Kept(logging.Handler):
    """Keeps the records of one logger (attached to it, whatever other tests did to propagation)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def summaries() -> Iterator[Kept]:
    kept, logger = Kept(), logging.getLogger("docpipe.parsers")
    logger.addHandler(kept)
    try:
        yield kept
    finally:
        logger.removeHandler(kept)


def test_thirty_thousand_parser_warnings_become_one_line_with_the_count_and_the_first_few(
    summaries: Kept, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert run_bounded(chatter, limits=FAST) == "done"
    assert [r for r in caplog.records if r.name.startswith("somelib")] == []
    assert len(summaries.records) == 1
    message = summaries.records[0].getMessage()
    assert message.startswith(f"parser warnings while reading the file: 30040 (first {KEEP}: ")
    assert "somelib.reader: Ignoring wrong pointing object 0 0 (offset 0)" in message
    assert len(message) < 1500


def chatter_then_fail() -> None:
    chatter(records=500, warned=0)
    raise ExtractionFailed("pdf: broken", code="corrupt")


def test_the_chatter_of_a_file_that_fails_is_counted_too(summaries: Kept) -> None:
    with pytest.raises(ExtractionFailed):
        run_bounded(chatter_then_fail, limits=FAST)
    assert [r.getMessage().split(" (")[0] for r in summaries.records] == ["parser warnings while reading the file: 500"]


def test_capturing_passes_docpipes_own_records_and_restores_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging.getLogger("docpipe"), "propagate", True)  # as outside Lambda (JSON logs off)
    monkeypatch.setattr(logging.getLogger("docpipe"), "handlers", [])
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.name)

    root, keep = logging.getLogger(), Keep(logging.WARNING)
    root.addHandler(keep)
    show = warnings.showwarning
    try:
        with Noise().capturing() as noise:
            chatter(records=10, warned=2)
        assert noise.count == 12 and seen == ["docpipe.extract"]
        assert warnings.showwarning is show and keep in root.handlers
    finally:
        root.removeHandler(keep)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Invalid object IndirectObject(1, 0, 140625350322384) in page", "Invalid object 1 0 R in page"),
        ("bad <pypdf.generic.DictionaryObject object at 0x7f3be83c52b0>", "bad <DictionaryObject>"),
        ("<function f at 0x7f3be83c52b0>", "<f>"),
        ("pointer 0x00007f3be83c52b0 freed", "pointer 0x… freed"),
        ("offset 0x1F in stream", "offset 0x1F in stream"),
    ],
)
def test_messages_never_show_object_reprs_or_addresses(raw: str, shown: str) -> None:
    assert plain(raw) == shown


def read_every_object(data_hex: str, objects: int) -> int:
    """What a parser does to a damaged PDF: pypdf repairs every misplaced object, logging each repair."""
    import io

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.NOTSET)  # whatever an earlier job in this worker set
    reader = PdfReader(io.BytesIO(bytes.fromhex(data_hex)))
    return sum(1 for n in range(1, objects + 1) if _readable(reader, n))


def _readable(reader: Any, number: int) -> bool:
    try:
        return reader.get_object(number) is not None
    except Exception:
        return False


def test_a_damaged_pdf_read_in_the_sandbox_gives_one_line_for_all_its_repairs(summaries: Kept) -> None:
    from tests.support import samples

    data = samples.damaged_pdf(objects=400)
    assert run_bounded(read_every_object, data.hex(), 400, limits=FAST) == 400
    assert len(summaries.records) == 1
    message = summaries.records[0].getMessage()
    count = int(message.split(": ")[1].split(" ")[0])
    assert count >= 400 and "pypdf._reader: Ignoring wrong pointing object" in message
