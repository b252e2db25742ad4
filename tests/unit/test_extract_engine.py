"""The engine: detection + registry + bounded extraction, and the registry's consistency."""

from __future__ import annotations

import importlib
import io
import json
import os
import signal
import time
import zipfile
from collections import defaultdict

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import extract as engine
from chalicelib.extraction.bounds import Limits
from chalicelib.extraction.extractors import registry
from chalicelib.extraction.extractors.base import Extraction, Source
from chalicelib.extraction.reader import RangedReader, bytes_reader
from chalicelib.extraction.sandbox import Pool, Session
from tests.support import samples
from tests.support.sandbox import spun_out

FAST = Limits(wall_seconds=3.0, cpu_seconds=3.0, memory_bytes=256 * 1024 * 1024)


def test_no_mime_type_is_claimed_by_two_registry_entries() -> None:
    owners: dict[str, list[str]] = defaultdict(list)
    for entry in registry.REGISTRY:
        for mime in entry.mime_types:
            owners[mime].append(entry.family)
    assert {mime: families for mime, families in owners.items() if len(families) > 1} == {}


def test_every_registry_module_exists_and_has_an_extract_function() -> None:
    for entry in registry.REGISTRY:
        module = importlib.import_module(entry.module)
        assert callable(module.extract), entry.module


def test_a_pdf_is_extracted_in_the_sandbox_and_the_bytes_read_are_counted() -> None:
    reader = bytes_reader(samples.pdf(pages=3))
    result = engine.extract(reader, "report.pdf", limits=FAST)
    assert result.metadata["mime_type"] == "application/pdf"
    assert result.metadata["family"] == "pdf"
    assert result.metadata["page_count"] == 3
    assert result.metadata["extension_mismatch"] is False
    assert reader.bytes_fetched > 0
    assert reader.requests >= 1


def test_the_in_process_mode_gives_the_same_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    data = samples.jpeg(width=120, height=80)
    sandboxed = engine.extract(bytes_reader(data), "cat.jpg", limits=FAST).metadata
    monkeypatch.setenv("DOCPIPE_SANDBOX", "0")
    inline = engine.extract(bytes_reader(data), "cat.jpg").metadata
    assert sandboxed == inline
    assert (inline["width"], inline["height"]) == (120, 80)


def test_a_misnamed_file_is_flagged() -> None:
    result = engine.extract(bytes_reader(samples.png()), "photo.jpg", limits=FAST)
    assert result.metadata["mime_type"] == "image/png"
    assert result.metadata["extension_mismatch"] is True


def test_an_unknown_extension_claims_nothing() -> None:
    result = engine.extract(bytes_reader(samples.png()), "image.testfile", limits=FAST)
    assert "extension_mismatch" not in result.metadata


def test_an_extractor_error_is_wrapped_with_the_family_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCPIPE_SANDBOX", "0")
    with pytest.raises(ExtractionFailed) as caught:
        engine.extract(bytes_reader(b"%PDF-1.7\n1 0 obj << /Type /Catalog"), "broken.pdf")
    assert caught.value.code == "corrupt"
    assert caught.value.message.startswith("pdf:")


def _hanging(source: Source) -> Extraction:
    while True:  # a parser stuck in a loop on hostile bytes keeps the CPU busy
        pass


def extract_with_a_hanging_parser(reader: RangedReader, filename: str, head_bytes: int) -> dict[str, object]:
    """In the worker: the PDF entry of the registry is a parser that never returns."""
    entry = registry.Entry("pdf", "tests.unit.test_extract_engine", frozenset({"application/pdf"}))
    engine.lookup = lambda mime_type: entry  # this worker is killed at the deadline
    registry.Entry.load = lambda self: _hanging  # type: ignore[method-assign]
    return engine.extract_in_worker(reader, filename, head_bytes)  # in the worker: the real one


def test_a_hanging_extractor_ends_as_timeout_and_the_caller_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "extract_in_worker", extract_with_a_hanging_parser)
    reader = bytes_reader(samples.pdf())
    started = time.monotonic()
    with pytest.raises(ExtractionFailed) as caught, Session(reader, owner=Pool()) as session:
        engine.extract(reader, "slow.pdf", limits=Limits(wall_seconds=30.0, cpu_seconds=1), session=session)
    assert spun_out(caught.value, 30.0), caught.value.message  # starved below its share: not the file's fault
    if caught.value.code == "timeout":
        assert time.monotonic() - started < 30  # the CPU limit ended it, not the deadline


def test_a_zip_bomb_member_does_not_blow_up_detection() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<" + b" " * (50 * 1024 * 1024) + b">")
    reader = bytes_reader(buffer.getvalue())
    result = engine.extract(reader, "bomb.docx", limits=FAST)
    assert result.metadata["mime_type"] == "application/zip"
    assert reader.bytes_fetched <= len(buffer.getvalue()) + 64 * 1024


def test_a_read_that_stalls_past_the_deadline_is_the_storages_fault_not_the_files() -> None:
    data = samples.pdf()

    def stalled(start: int, end: int) -> bytes:
        time.sleep(30)
        return data[start : end + 1]

    with pytest.raises(ExtractionFailed) as caught:
        engine.extract(RangedReader(stalled, len(data)), "a.pdf", limits=Limits(wall_seconds=1.0, cpu_seconds=5))
    assert caught.value.code == "unavailable"


def killed_in_worker(reader: RangedReader, filename: str, head_bytes: int) -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # an outside SIGKILL (the OOM killer for the machine, an operator)


def test_an_extraction_killed_from_outside_is_interrupted_not_blamed_on_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "extract_in_worker", killed_in_worker)
    with pytest.raises(ExtractionFailed) as caught:
        engine.extract(bytes_reader(samples.pdf()), "a.pdf", limits=FAST)
    assert caught.value.code == "interrupted"


def _leaky(source: Source) -> Extraction:
    raise ValueError(
        "Invalid /Pages IndirectObject(1, 0, 140625350322384) in <pypdf.PdfReader object at 0x7f3be83c52b0>"
    )


def test_a_parser_error_names_the_pdf_object_but_no_memory_address(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = registry.Entry("pdf", "tests.unit.test_extract_engine", frozenset({"application/pdf"}))
    monkeypatch.setattr(engine, "lookup", lambda mime: entry)
    monkeypatch.setattr(registry.Entry, "load", lambda self: _leaky)
    with pytest.raises(ExtractionFailed) as caught:
        engine.extract(bytes_reader(samples.pdf()), "a.pdf", limits=FAST, sandbox=False)
    assert caught.value.message == "pdf: ValueError: Invalid /Pages 1 0 R in <PdfReader>"


def leaky_in_worker(reader: RangedReader, filename: str, head_bytes: int) -> None:
    _leaky(Source(reader=reader, size=reader.size, filename=filename, mime_type="application/pdf", head=b""))


def test_a_worker_error_names_the_pdf_object_but_no_memory_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "extract_in_worker", leaky_in_worker)
    with pytest.raises(ExtractionFailed) as caught:
        engine.extract(bytes_reader(samples.pdf()), "a.pdf", limits=FAST)
    assert caught.value.message == "ValueError: Invalid /Pages 1 0 R in <PdfReader>"


def _tar_with_latin1_names() -> bytes:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT, encoding="latin-1") as archive:
        for name in ("café.txt", "naïve/résumé.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            archive.addfile(info, io.BytesIO(b"hi"))
    return buffer.getvalue()


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandboxed", "in-process"])
def test_names_in_non_utf8_bytes_leave_the_extractor_as_valid_utf8(sandbox: bool) -> None:
    result = engine.extract(bytes_reader(_tar_with_latin1_names()), "old.tar", limits=FAST, sandbox=sandbox)
    encoded = json.dumps(result.metadata, ensure_ascii=False).encode()  # raises on a lone surrogate
    assert "caf\ufffd.txt" in encoded.decode()
    assert_storable(result.metadata)


def assert_storable(metadata: dict[str, object]) -> None:
    """What the repository writes: DynamoDB attribute values, every string encodable as UTF-8."""
    from chalicelib.aws.table import dump, to_dynamo_value

    item = dump({"metadata": to_dynamo_value(metadata)})
    json.dumps(item, ensure_ascii=False, default=str).encode()


@pytest.mark.parametrize(
    "data, name",
    [
        (samples.pdf(), "a.pdf"),
        (samples.jpeg(), "a.jpg"),
        (samples.png(), "a.png"),
        (samples.text_pdf(["caf\u00e9 \u20ac"]), "b.pdf"),
        (samples.MESSY_CSV, "a.csv"),
        ("na\u00efve text \U0001f600\n".encode(), "a.txt"),
        (b"<html><head><title>\xff\xfe</title></head></html>", "a.html"),
        (b"From: \xe9 <a@b>\nSubject: \xff\n\nbody", "a.eml"),
    ],
)
def test_every_extractors_output_is_json_and_a_dynamodb_item(data: bytes, name: str) -> None:
    metadata = engine.extract(bytes_reader(data), name, limits=FAST).metadata
    json.dumps(metadata, ensure_ascii=False).encode()
    assert_storable(metadata)


def test_a_failed_extraction_keeps_the_detected_type_and_family() -> None:
    with pytest.raises(ExtractionFailed) as caught:
        engine.extract(bytes_reader(b"%PDF-1.7\n1 0 obj << /Type /Catalog"), "broken.pdf", limits=FAST)
    assert caught.value.code == "corrupt"
    assert caught.value.metadata is not None
    assert (caught.value.metadata["mime_type"], caught.value.metadata["family"]) == ("application/pdf", "pdf")


def _detectable_types() -> set[str]:
    """Every type detection can name: its signature and text tables, and the canonical spellings of aliases."""
    import re
    from pathlib import Path

    from chalicelib.extraction.extensions import ALIASES

    found = set(ALIASES) | set(ALIASES.values())
    for name in ("signatures.py", "textkind.py", "detect.py", "encoding.py"):
        source = (Path(engine.__file__).parent / name).read_text(encoding="utf-8")
        found |= set(re.findall(r'"((?:application|image|audio|video|text|message|font)/[A-Za-z0-9.+-]+)"', source))
    return found


def test_every_type_detection_can_return_has_an_extractor_or_is_deliberately_type_only() -> None:
    detectable = _detectable_types()
    unread = {t for t in detectable if registry.lookup(t) is registry.FALLBACK}
    assert unread == registry.TYPE_ONLY  # every unread type is listed on purpose, and the list holds nothing stale
    assert not registry.TYPE_ONLY & {m for entry in registry.REGISTRY for m in entry.mime_types}


def test_a_psd_is_read_by_the_image_extractor_under_every_spelling() -> None:
    for spelling in ("application/vnd.adobe.photoshop", "image/vnd.adobe.photoshop", "image/x-photoshop"):
        assert registry.lookup(spelling).family == "image"


def test_a_psd_file_is_detected_and_extracted_not_left_as_other() -> None:
    from tests.unit.extractors.test_image import psd

    metadata = engine.extract(bytes_reader(psd(width=300, height=200)), "layers.psd", limits=FAST).metadata
    assert (metadata["family"], metadata["width"], metadata["height"]) == ("image", 300, 200)
