"""Does on_upload fit a memory setting? Every corpus file read as on_upload reads it, under each setting's bounds.

Usage: python -m bench.memory_fit [--corpus DIR] [--memory MB ...]   (default: 1769 and 1024)

For each memory setting, `Settings` is built as Lambda would start the function
(AWS_LAMBDA_FUNCTION_MEMORY_SIZE set), and every file goes through what the
ingest does in one sandbox session: extraction, plain text, rendition. Printed
side by side: each setting's parser bounds, the files whose outcome differs
from the first setting's (a status, a failure code, text or rendition lost), the
time spent, and the peak resident memory of each process (VmHWM: the host, the
sandbox's zygote, its worker), whose sum is what the function must hold.

The host here is this process (extraction's imports and the sandbox's host
side); the deployed handler adds boto3's clients and the app, counted by
`bench.percall`'s peak table ("bench process": every handler at once, an upper
bound).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.cputime import descendants, role
from chalicelib.config import Settings
from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import bounds
from chalicelib.extraction.extract import HEAD_BYTES, extract
from chalicelib.extraction.reader import file_reader
from chalicelib.extraction.rendition import render
from chalicelib.extraction.sandbox import Session
from chalicelib.extraction.text import read_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"


def settings_for(memory_mb: int) -> Settings:
    return Settings.from_env({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb), "DOCPIPE_CURSOR_SECRET": "x"})


def outcome(path: Path, settings: Settings, peaks: dict[str, int]) -> str:
    """What on_upload's extraction, text and rendition make of one file: family or code, text, rendition."""
    reader = file_reader(str(path))
    extraction = bounds.Limits.for_extraction(settings)
    with Session(reader) as session:
        try:
            result = extract(reader, path.name, HEAD_BYTES, extraction, True, session.on(reader))
        except ExtractionFailed as exc:
            sample(peaks)
            return f"failed:{exc.code}"
        metadata = result.metadata
        found, problems = read_text(reader, metadata, extraction, True, session)
        public: dict[str, Any] = {"id": "x", "filename": path.name, "status": "PROCESSED", "metadata": metadata}
        try:
            render(
                public, reader, limits=bounds.Limits.for_rendition(settings), sandbox=True, session=session, text=found
            )
            rendition = "page"
        except Exception as exc:  # the ingest notes this as a warning
            rendition = f"no page ({type(exc).__name__})"
        sample(peaks)
    text = "text" if found is not None else ("text left out" if problems else "no text")
    return f"{metadata.get('family')}, {text}, {rendition}"


def sample(peaks: dict[str, int]) -> None:
    """The resident high-water marks of this process and its sandbox processes, kept at their maxima."""
    peaks["host"] = max(peaks.get("host", 0), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    live = descendants(os.getpid(), frozenset())
    for pid, s in live.items():
        name = role(pid, s.ppid in live and role(s.ppid) == "sandbox zygote")
        peaks[name] = max(peaks.get(name, 0), s.peak_kb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_fit", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--memory", type=int, nargs="+", default=[1769, 1024])
    args = parser.parse_args(argv)
    files = sorted(p for p in args.corpus.glob("*/*") if p.is_file())
    results: dict[int, dict[str, str]] = {}
    for memory in args.memory:
        settings = settings_for(memory)
        extraction, rendition = bounds.Limits.for_extraction(settings), bounds.Limits.for_rendition(settings)
        peaks: dict[str, int] = {}
        started = time.monotonic()
        results[memory] = {str(p.relative_to(args.corpus)): outcome(p, settings, peaks) for p in files}
        print(
            f"{memory} MB: parser bounds extraction/text {extraction.memory_bytes >> 20} MB more address space, "
            f"{extraction.wall_seconds:g} s wall, {extraction.cpu_seconds:g} s CPU; rendition "
            f"{rendition.memory_bytes >> 20} MB, {rendition.wall_seconds:g} s wall; {len(files)} files in "
            f"{time.monotonic() - started:.0f} s; peak KB "
            + ", ".join(f"{name} {kb:,}" for name, kb in sorted(peaks.items()))
            + f"; sum {sum(v for k, v in peaks.items() if k in ('host', 'sandbox zygote', 'sandbox worker')):,}",
            flush=True,
        )
    first, *others = args.memory
    counted = Counter(", ".join(o.split(", ")[1:]) or o for o in results[first].values())
    print(f"outcomes at {first} MB: " + "; ".join(f"{what} {n}" for what, n in counted.most_common()))
    for memory in others:
        changed = {
            f: (results[first][f], results[memory][f])
            for f in results[first]
            if results[first][f] != results[memory][f]
        }
        print(f"outcomes that differ at {memory} MB from {first} MB: {len(changed)} of {len(files)}")
        for name, (was, now) in sorted(changed.items()):
            print(f"  {name}: {was} -> {now}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
