"""Extraction benchmark: speed, bytes read, memory, and agreement with the ExifTool oracle.

Usage: python -m bench.extract [FOLDER]   (default: ../shared/corpus beside the repository)

Each file is read as the pipeline reads it: extraction and plain text in one sandbox session.
Prints files/s (sequential and with two workers, as two concurrent Lambdas would run),
per-family median time, peak RSS, bytes read per file against its size, detection agreement
with EXIFTOOL.json (every disagreement with its justification), field agreement (page count,
dimensions, duration, title, author), and, with ExifTool installed, in the same run: both speed
ratios against `exiftool -j -fast` in one process (all files, and the ordinary ones: without
files where either tool needs more than 1 s; sequential and with two workers, the latter also against
two ExifTool processes; ExifTool is warmed on the same one file per family as docpipe), the ordinary
set's ratio for extraction alone (no text: the work ExifTool does), a per-family ExifTool/docpipe
table, and the coverage table (per family, files with each field in ExifTool's output and in ours); then the sandbox's
overhead per file, bytes read from generated files above 50 MB, and the cold import of app.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import cputime, exiftool
from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.bounds import Limits
from chalicelib.extraction.detect import detect
from chalicelib.extraction.extract import HEAD_BYTES, extract, extract_inline
from chalicelib.extraction.reader import file_reader
from chalicelib.extraction.sandbox import Session, pool, run_bounded
from chalicelib.extraction.text import detect_language, extract_text, read_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = next(
    (p / "shared" / "corpus" for p in (REPO.parent, REPO.parent.parent) if (p / "shared" / "corpus").is_dir()),
    REPO.parent / "shared" / "corpus",
)
LIMITS = Limits(wall_seconds=15.0, cpu_seconds=12.0, memory_bytes=768 * 1024 * 1024)
MB = 1024 * 1024


@dataclass
class Run:
    path: Path
    seconds: float
    size: int
    bytes_read: int
    requests: int
    metadata: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None


def run_one(path: Path) -> Run:
    """One file as the pipeline reads it: extraction and text in one sandbox session (one read of the file)."""
    reader = file_reader(str(path))
    started = time.perf_counter()
    metadata: dict[str, Any] = {}
    failure = None
    with Session(reader) as session:
        try:
            metadata = extract(reader, path.name, limits=LIMITS, sandbox=True, session=session).metadata
        except ExtractionFailed as exc:
            failure = exc.code
        if failure is None:
            found, _ = read_text(reader, metadata, LIMITS, True, session)
            if found is not None:
                metadata.update(text_language=found.language, text_words=found.word_count, text_bytes=found.size)
    return Run(
        path, time.perf_counter() - started, reader.size, reader.bytes_fetched, reader.requests, metadata, failure
    )


def run_metadata(path: Path) -> float:
    """Seconds for extraction alone in the sandbox (no text): the work ExifTool does, for the ratio without text."""
    reader = file_reader(str(path))
    started = time.perf_counter()
    with contextlib.suppress(ExtractionFailed):
        extract(reader, path.name, limits=LIMITS, sandbox=True)
    return time.perf_counter() - started


def run_inline(path: Path) -> float:
    """The same work in this process, without the sandbox: what the sandbox costs is the difference."""
    reader = file_reader(str(path))
    started = time.perf_counter()
    with contextlib.suppress(Exception):
        extract_text(reader, extract_inline(reader, path.name).metadata)
    return time.perf_counter() - started


def corpus_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.parent != folder)


# --- oracle comparison ----------------------------------------------------------------------------

_JUSTIFIED: tuple[tuple[str, Callable[[str, str], bool], str], ...] = (
    ("e-mail", lambda e, o: e == "text/plain" and o in ("message/rfc822", "application/mbox"),
     "ExifTool 12.57 has no e-mail/mbox type and reads them as TXT"),
    ("html", lambda e, o: e == "text/plain" and o == "text/html",
     "HTML that does not open with <html> or a doctype (comment, script or UTF-16 first); ExifTool needs one"),
    ("xml", lambda e, o: e == "text/plain" and o == "application/xml",
     "XML with a DOCTYPE (XXE/bomb fixtures, RSS 0.91); ExifTool's XML sniff stops at the DTD"),
    ("json", lambda e, o: e == "text/plain" and o == "application/json",
     "JSON ExifTool misses: UTF-16 or UTF-8 BOM, or 100000 nested arrays (the JSON extractor reports it)"),
    ("tsv", lambda e, o: e == "text/plain" and o == "text/tab-separated-values",
     "tab-separated values; ExifTool only types .csv files as CSV"),
    ("msg", lambda e, o: e == "image/vnd.fpx" and o == "application/vnd.ms-outlook",
     "ExifTool calls every unrecognised OLE2 file FlashPix; __substg1.0_ streams make it an Outlook message"),
    ("pdf", lambda e, o: e == "text/plain" and o == "application/pdf",
     "header '%PDF-1.' without a minor version; ExifTool requires %PDF-1.N, readers accept it"),
    ("svg", lambda e, o: e == "application/xml" and o == "image/svg+xml",
     "UTF-16 XML whose root element is <svg>; ExifTool does not look past the UTF-16 declaration"),
    ("m4a", lambda e, o: e == "video/mp4" and o == "audio/mp4",
     "mp42-branded file with only a sound track; ExifTool decides from the brand alone"),
)  # fmt: skip


def justify(exif: str, ours: str) -> str | None:
    for _, rule, reason in _JUSTIFIED:
        if rule(exif, ours):
            return reason
    return None


def detection_report(runs: list[Run], oracle: dict[str, dict[str, Any]]) -> None:
    identified = agree = justified = 0
    rows: list[str] = []
    for run in runs:
        exif = oracle.get(str(run.path.resolve()), {}).get("MIMEType")
        ours = run.metadata.get("mime_type") or _detected_only(run.path)
        if not exif:
            continue
        identified += 1
        if exif == ours:
            agree += 1
            continue
        reason = justify(exif, ours)
        justified += reason is not None
        name = f"{run.path.parent.name}/{run.path.name}"
        rows.append(f"  {name}: exiftool={exif} ours={ours}\n      -> {reason or 'UNEXPLAINED'}")
    print(f"\nDetection vs ExifTool MIMEType: {agree}/{identified} agree ({100 * agree / max(1, identified):.1f}%)")
    print(
        f"  agree or justified: {agree + justified}/{identified}"
        f" ({100 * (agree + justified) / max(1, identified):.1f}%)"
    )
    print("  disagreements:")
    print("\n".join(rows) or "  (none)")


def _detected_only(path: Path) -> str:
    from chalicelib.extraction.detect import detect

    reader = file_reader(str(path))
    return detect(reader.head(8192), reader, path.name).mime_type


def _seconds(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).replace("(approx)", "").strip()
    match = re.fullmatch(r"([\d.]+) s", text)
    if match:
        return float(match.group(1))
    match = re.fullmatch(r"(?:(\d+) days )?(\d+):(\d+):([\d.]+)", text)
    if match:
        days, h, m, s = match.groups()
        return int(days or 0) * 86400 + int(h) * 3600 + int(m) * 60 + float(s)
    return None


def _same(field_name: str, exif: Any, ours: Any) -> bool:
    if field_name == "duration_seconds":
        a, b = _seconds(exif), _seconds(ours)
        return a is not None and b is not None and abs(a - b) <= max(0.5, 0.02 * a)
    if field_name in ("title", "author"):
        exif = exif[0] if isinstance(exif, list) and exif else exif
        ours = ours[0] if isinstance(ours, list) and ours else ours
        return str(exif).strip().lower() == str(ours).strip().lower()
    try:
        return int(exif) == int(ours)
    except (TypeError, ValueError):
        return False


FIELDS = {
    "page_count": ("PageCount", "Pages"),
    "width": ("ImageWidth",),
    "height": ("ImageHeight",),
    "duration_seconds": ("Duration",),
    "title": ("Title",),
    "author": ("Author", "Creator", "Artist"),
}


def field_report(runs: list[Run], oracle: dict[str, dict[str, Any]]) -> None:
    print("\nField agreement with ExifTool (files where both report the field; missing = ExifTool has it, we do not):")
    for name, keys in FIELDS.items():
        both = same = missing = 0
        misses: list[str] = []
        for run in runs:
            record = oracle.get(str(run.path.resolve()), {})
            exif = next((record[k] for k in keys if k in record), None)
            if exif in (None, "") or run.failure:
                continue
            ours = run.metadata.get(name)
            if ours is None:
                missing += 1
                continue
            both += 1
            if _same(name, exif, ours):
                same += 1
            elif len(misses) < 5:
                misses.append(f"{run.path.name}: exiftool={str(exif)[:40]!r} ours={str(ours)[:40]!r}")
        print(f"  {name:17s} {same}/{both} agree, {missing} missing" + "".join(f"\n      {m}" for m in misses))


# --- throughput, bytes, memory --------------------------------------------------------------------


def speed_report(runs: list[Run], seconds: float, parallel_seconds: float | None) -> None:
    print(f"\nFiles: {len(runs)}  sequential: {seconds:.2f} s = {len(runs) / seconds:.1f} files/s")
    if parallel_seconds:
        print(f"  with two workers: {parallel_seconds:.2f} s = {len(runs) / parallel_seconds:.1f} files/s")
    failures: dict[str, int] = defaultdict(int)
    for run in runs:
        if run.failure:
            failures[run.failure] += 1
    print(f"  failures by code: {dict(failures) or 'none'}")
    families: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        families[run.metadata.get("family") or run.path.parent.name].append(run.seconds)
    print("  per-family median ms (n): " + ", ".join(
        f"{name} {1000 * statistics.median(times):.0f} ({len(times)})" for name, times in sorted(families.items())
    ))  # fmt: skip
    slow = sorted(runs, key=lambda r: r.seconds, reverse=True)[:5]
    print("  slowest: " + ", ".join(f"{r.path.name} {r.seconds:.2f}s" for r in slow))
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS: parent {own:.0f} MB, largest extraction child {children:.0f} MB")


def bytes_report(runs: list[Run]) -> None:
    big = [r for r in runs if r.size > MB]
    ratios = [r.bytes_read / r.size for r in runs if r.size]
    print(f"\nBytes read / size: median {statistics.median(ratios):.2f}, over {len(big)} files > 1 MB:")
    for run in sorted(big, key=lambda r: r.size, reverse=True)[:10]:
        print(f"  {run.path.name}: {run.bytes_read / 1024:.0f} KB of {run.size / MB:.1f} MB in {run.requests} requests")


def large_files_report() -> None:
    print("\nGenerated files above 50 MB (goal: <= 256 KB read from any non-CSV file):")
    with tempfile.TemporaryDirectory() as folder:
        for name, make in (("big.mp4", _big_mp4), ("big.zip", _big_zip), ("big.pdf", _big_pdf), ("big.csv", _big_csv)):
            path = Path(folder) / name
            make(path)
            run = run_one(path)
            verdict = "n/a (whole-file scan by design)" if name.endswith(".csv") else (
                "OK" if run.bytes_read <= 256 * 1024 else "OVER")  # fmt: skip
            print(
                f"  {name}: {run.size / MB:.0f} MB, read {run.bytes_read / 1024:.0f} KB in {run.requests} requests,"
                f" {run.seconds:.2f} s, {run.metadata.get('mime_type') or run.failure} -> {verdict}"
            )


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def _big_mp4(path: Path) -> None:
    mvhd = _box(b"mvhd", b"\0" * 12 + (1000).to_bytes(4, "big") + (60000).to_bytes(4, "big") + b"\0" * 80)
    hdlr = _box(b"hdlr", b"\0" * 8 + b"vide" + b"\0" * 12)
    with path.open("wb") as out:
        out.write(_box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41"))
        size = 60 * MB
        out.write((size + 8).to_bytes(4, "big") + b"mdat")
        _zeros(out, size)
        out.write(_box(b"moov", mvhd + _box(b"trak", _box(b"mdia", hdlr))))


def _big_zip(path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        with archive.open("payload.bin", "w", force_zip64=True) as member:
            _zeros(member, 60 * MB)
        for i in range(50):
            archive.writestr(f"docs/note{i}.txt", f"note {i}")


def _big_pdf(path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(612, 792)
    writer.add_metadata({"/Title": "Big report", "/Author": "Bench"})
    writer.add_attachment("payload.bin", os.urandom(60 * MB))
    with path.open("wb") as out:
        writer.write(out)


def _big_csv(path: Path) -> None:
    row = b"12345,some text here,3.14159,2024-01-01,another column value\n"
    with path.open("wb") as out:
        out.write(b"id,text,number,date,other\n")
        out.write(row * (55 * MB // len(row)))


def _zeros(out: Any, size: int) -> None:
    chunk = b"\0" * MB
    for _ in range(size // MB):
        out.write(chunk)


# --- exiftool, fork, import -------------------------------------------------------------------------


def speed_and_coverage_report(runs: list[Run]) -> list[Run]:
    """Both speed ratios against `exiftool -j -fast` in one process, and the coverage table, from one run.

    The machine is shared: each file is read by ExifTool and by docpipe one
    right after the other, and each two-worker pass is followed by an ExifTool
    pass over the same files, so both sides of a ratio see the same load.
    """
    if not exiftool.available():
        print("\nexiftool not installed (apt-get install -y libimage-exiftool-perl): no ratio, no coverage table")
        return [r for r in runs if r.seconds <= 1.0]
    tool = exiftool.StayOpen("-j", "-fast")
    try:
        for path in _one_per_family([r.path for r in runs]):  # warm alike: ExifTool loads a format's module on
            tool.read(path)  # first use, so it reads the same one file per family docpipe was warmed with
        pairs = [(tool.read(r.path), run_one(r.path)) for r in runs]
        ordinary = [(t, r) for t, r in pairs if r.seconds <= 1.0 and t[0] <= 1.0]
        metadata_only = _metadata_only(tool, [r.path for _, r in ordinary])
        slow = sorted(r.path.name for t, r in pairs if (t, r) not in ordinary)
        print(f"\nSpeed against exiftool -j -fast, one process each (extraction + text for docpipe), load {_load()}:")
        print(f"  files where either tool needs > 1 s, left out of 'ordinary': {len(slow)} {slow}")
        for label, chosen in (("all files", pairs), ("ordinary", ordinary)):
            exif, ours = sum(t[0] for t, _ in chosen), sum(r.seconds for _, r in chosen)
            two = _two_workers([r.path for _, r in chosen])
            exif_again = sum(tool.read(r.path)[0] for _, r in chosen)
            exif_two = _exiftool_two_processes([r.path for _, r in chosen])
            print(
                f"  {label} ({len(chosen)}): sequential exiftool {exif:.2f} s / docpipe {ours:.2f} s"
                f" = {exif / ours:.2f}x;"
                f" two workers: exiftool {exif_again:.2f} s / docpipe {two:.2f} s = {exif_again / two:.2f}x"
                f" (against two ExifTool processes, {exif_two:.2f} s: {exif_two / two:.2f}x)"
            )
        print("  goals on the ordinary set: >= 2x sequential, >= 5x with two workers (against one ExifTool process)")
        exif_meta, ours_meta = metadata_only
        print(
            f"  ordinary, extraction alone (no text: ExifTool's work), another paired pass: exiftool {exif_meta:.2f} s"
            f" / docpipe {ours_meta:.2f} s = {exif_meta / ours_meta:.2f}x"
        )
        _family_table(ordinary)
        exif_cpu, host_cpu, sandbox_cpu = _cpu_pass(tool, [r.path for _, r in ordinary])
        ours_cpu = host_cpu + sandbox_cpu
        print(
            f"  CPU seconds of one more paired pass over the ordinary set (what load does not change): exiftool"
            f" {exif_cpu:.2f} s / docpipe {ours_cpu:.2f} s (host {host_cpu:.2f} + sandbox processes {sandbox_cpu:.2f})"
            f" = {exif_cpu / max(ours_cpu, 1e-9):.2f}x"
        )
    finally:
        tool.close()
    rows = [(r.metadata.get("family") or r.path.parent.name, r.metadata, t[1]) for t, r in pairs if not r.failure]
    print("\nCoverage: files with the field, ExifTool vs docpipe, per family (from this run's ExifTool output):")
    print("\n".join(exiftool.coverage_table(rows)))
    return [r for _, r in ordinary]


def _metadata_only(tool: exiftool.StayOpen, paths: list[Path]) -> tuple[float, float]:
    """Seconds of ExifTool and of docpipe's extraction alone over the files, each file read by one then the other."""
    exif = ours = 0.0
    for number, path in enumerate(paths):  # who goes first alternates: the second read of a file is the warmer
        if number % 2:
            ours += run_metadata(path)
            exif += tool.read(path)[0]
        else:
            exif += tool.read(path)[0]
            ours += run_metadata(path)
    return exif, ours


def _family_table(pairs: list[tuple[tuple[float, Any], Run]]) -> None:
    """Where docpipe (extraction + text) spends more or less than ExifTool, per family, from the paired pass."""
    exif: dict[str, float] = defaultdict(float)
    ours: dict[str, float] = defaultdict(float)
    for (seconds, _), run in pairs:
        exif[run.path.parent.name] += seconds
        ours[run.path.parent.name] += run.seconds
    order = sorted(exif, key=lambda family: exif[family] - ours[family])
    print("  per family, ms, exiftool / docpipe (extraction + text), most behind first: " + ", ".join(
        f"{family} {1000 * exif[family]:.0f}/{1000 * ours[family]:.0f}" for family in order
    ))  # fmt: skip


def _cpu_pass(tool: exiftool.StayOpen, paths: list[Path]) -> tuple[float, float, float]:
    """CPU seconds of ExifTool's process, of docpipe's host (in `run_one`) and of its sandbox processes."""
    exif_before, sandbox_before = _process_cpu(tool.pid), _sandbox_cpu()
    host = 0.0
    for path in paths:
        tool.read(path)
        began = time.process_time()
        run_one(path)
        host += time.process_time() - began
    return _process_cpu(tool.pid) - exif_before, host, _sandbox_cpu() - sandbox_before


def _process_cpu(pid: int | None) -> float:
    sample = cputime.read(pid) if pid is not None else None
    return sample.cpu if sample is not None else 0.0


def _sandbox_cpu() -> float:
    """CPU seconds of the zygote (with the workers it reaped) and of its live workers."""
    zygote = pool().zygote_pid()
    if zygote is None:
        return 0.0
    workers = cputime.descendants(zygote, frozenset())
    return _process_cpu(zygote) + sum(sample.cpu for sample in workers.values())


def _one_per_family(paths: list[Path]) -> list[Path]:
    return list({p.parent: p for p in paths}.values())


def _two_workers(paths: list[Path]) -> float:
    spans: list[tuple[float, float]] = []

    def timed(path: Path) -> None:
        began = time.perf_counter()
        run_one(path)
        spans.append((began, time.perf_counter()))

    cpu_before = time.process_time() + _sandbox_cpu()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as threads:  # two sessions at a time: two sandbox workers
        list(threads.map(timed, paths))
    seconds = time.perf_counter() - started
    cpu = time.process_time() + _sandbox_cpu() - cpu_before
    print(
        f"  (two workers: two files in flight {100 * _both_busy(spans) / seconds:.0f}% of the pass; docpipe's"
        f" processes used {cpu:.2f} CPU s in {seconds:.2f} s = {cpu / seconds:.2f} cores; load {_load()})"
    )
    return seconds


def _load() -> str:
    """The machine's 1-minute load average over its cores: on a shared machine, what a second worker can get."""
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def _exiftool_two_processes(paths: list[Path]) -> float:
    """Wall seconds for two `exiftool -stay_open` processes sharing the files: the same process model as two workers."""
    tools = [exiftool.StayOpen("-j", "-fast") for _ in range(2)]
    try:
        for tool in tools:
            for path in _one_per_family(paths):
                tool.read(path)
        pending = iter(paths)
        lock = threading.Lock()

        def drain(tool: exiftool.StayOpen) -> None:
            while True:
                with lock:
                    path = next(pending, None)
                if path is None:
                    return
                tool.read(path)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as threads:
            list(threads.map(drain, tools))
        return time.perf_counter() - started
    finally:
        for tool in tools:
            tool.close()


def _both_busy(spans: list[tuple[float, float]]) -> float:
    """Seconds during which two of the spans overlap (how parallel the two-worker pass really was)."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    busy, running, since = 0.0, 0, 0.0
    for moment, step in edges:
        if running >= 2:
            busy += moment - since
        running += step
        since = moment
    return busy


def stage_report(ordinary: list[Run]) -> None:
    """Where docpipe's time goes on the ordinary set: CPU per stage in this process, best of 2, and the heaviest files.

    Stages as the worker runs them: detection (libmagic + signatures), the
    family's extractor, the text producer, and language detection on the text.
    """
    totals: dict[str, float] = defaultdict(float)
    pdf: dict[str, float] = defaultdict(float)
    per_file: list[tuple[float, str]] = []
    for run in ordinary:
        best = min((_stages(run.path) for _ in range(2)), key=lambda t: sum(t.values()))
        for stage, seconds in best.items():
            totals[stage] += seconds
            if run.metadata.get("family") == "pdf":
                pdf[stage] += seconds
        per_file.append((sum(best.values()), run.path.name))
    whole = sum(totals.values())
    print(f"\nWhere the time goes, ordinary set ({len(ordinary)} files), CPU in one process (sandbox excluded):"
          f" {whole:.2f} s = " + ", ".join(f"{k} {v:.2f} s" for k, v in totals.items()))  # fmt: skip
    pdfs = sum(run.metadata.get("family") == "pdf" for run in ordinary)
    print(f"  of which its {pdfs} PDFs: {sum(pdf.values()):.2f} s = "
          + ", ".join(f"{k} {v:.2f} s" for k, v in pdf.items())
          + " (text: PDFium's page parsing; pypdf's repair where PDFium refuses a file)")  # fmt: skip
    per_file.sort(reverse=True)
    heaviest = ", ".join(f"{name} {1000 * seconds:.0f} ms" for seconds, name in per_file[:5])
    print(f"  heaviest 5 files: {100 * sum(s for s, _ in per_file[:5]) / max(whole, 1e-9):.0f}% of it: {heaviest}")


def _stages(path: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    reader = file_reader(str(path))
    began = time.process_time()
    with contextlib.suppress(Exception):
        detect(reader.head(HEAD_BYTES), reader, path.name)
    times["detection"] = time.process_time() - began
    reader = file_reader(str(path))
    began = time.process_time()
    try:
        metadata = extract_inline(reader, path.name).metadata
    except ExtractionFailed:
        metadata = {}
    times["extractor"] = max(0.0, time.process_time() - began - times["detection"])
    began = time.process_time()
    found = None
    with contextlib.suppress(Exception):
        found = extract_text(reader, metadata) if metadata else None
    text_seconds = time.process_time() - began
    began = time.process_time()
    if found is not None:
        detect_language(found.text)
    times["language"] = time.process_time() - began
    times["text"] = max(0.0, text_seconds - times["language"])
    return times


def sandbox_report(runs: list[Run]) -> None:
    """What the sandbox adds per file: sandboxed minus in-process, each the best of three, file by file."""
    chosen = [r for r in runs if not r.failure and r.seconds <= 1.0 and r.path.parent.name != "corrupt"]
    overheads = []
    for run in chosen:
        boxed = min(run_one(run.path).seconds for _ in range(3))
        inline = min(run_inline(run.path) for _ in range(3))
        overheads.append(boxed - inline)
    samples = []
    for _ in range(200):
        started = time.perf_counter()
        run_bounded(os.getpid, limits=LIMITS)
        samples.append(time.perf_counter() - started)
    print(
        f"\nSandbox overhead per file (sandboxed minus in-process, extraction + text, best of 3, {len(chosen)} files):"
        f" median {1000 * statistics.median(overheads):.2f} ms (goal <= 1 ms);"
        f" an empty job's round trip: median {1000 * statistics.median(samples):.2f} ms,"
        f" p95 {1000 * sorted(samples)[int(len(samples) * 0.95)]:.2f} ms; workers forked: {pool().forks}"
    )


def import_report() -> None:
    code = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    times = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env)
        if out.returncode != 0:
            print(f"\nCold import of app.py failed: {out.stderr.strip()[-300:]}")
            return
        times.append(float(out.stdout.strip().splitlines()[-1]))
    print(f"\nCold import of app.py (fresh interpreter): min {1000 * min(times):.0f} ms,"
          f" median {1000 * statistics.median(times):.0f} ms (goal <= 150 ms)")  # fmt: skip


def load_oracle(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / "EXIFTOOL.json"
    if not path.exists():
        return {}
    records = json.loads(path.read_text())
    return {str((folder.parent / r["SourceFile"]).resolve()): r for r in records}


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else DEFAULT_CORPUS
    if not folder.is_dir():
        print(f"no folder to benchmark: {folder} (pass a path)")
        return 2
    files = corpus_files(folder)
    oracle = load_oracle(folder)
    for path in _one_per_family(files):  # warm the zygote with each family's modules
        run_one(path)
    started = time.perf_counter()
    runs = [run_one(path) for path in files]
    sequential = time.perf_counter() - started
    speed_report(runs, sequential, _two_workers(files))
    bytes_report(runs)
    if oracle:
        detection_report(runs, oracle)
        field_report(runs, oracle)
    ordinary = speed_and_coverage_report(runs)
    stage_report(ordinary)
    sandbox_report(runs)
    large_files_report()
    import_report()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
