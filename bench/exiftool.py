"""ExifTool beside docpipe: per-file timings in one ExifTool process, and the field coverage table.

`StayOpen` keeps one `exiftool -stay_open` process (as `exiftool -j -fast -r`
would be one process over a folder) and times each file in it, so the bench
can drop the files where either tool needs more than a second and still
compare one process against one process. `COVERAGE` maps docpipe's field names
to the ExifTool tags that carry the same fact; the table says, per family, how
many files have the field in each tool's output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

COVERAGE: dict[str, tuple[str, ...]] = {
    "title": ("Title",),
    "author": ("Author", "Creator", "Artist", "By-line"),
    "subject": ("Subject",),
    "keywords": ("Keywords",),
    "created": ("CreateDate", "CreationDate", "DateCreated"),
    "modified": ("ModifyDate",),
    "page_count": ("PageCount", "Pages", "Slides"),
    "word_count": ("Words",),
    "language": ("Language",),
    "producer": ("Producer",),
    "creator_tool": ("CreatorTool", "Application", "Software"),
    "width": ("ImageWidth",),
    "height": ("ImageHeight",),
    "orientation": ("Orientation",),
    "camera_make": ("Make",),
    "camera_model": ("Model",),
    "taken_at": ("DateTimeOriginal",),
    "gps_latitude": ("GPSLatitude",),
    "exposure_time": ("ExposureTime",),
    "f_number": ("FNumber",),
    "iso": ("ISO",),
    "focal_length": ("FocalLength",),
    "lens_model": ("LensModel",),
    "flash": ("Flash",),
    "copyright": ("Copyright", "Rights", "CopyrightNotice"),
    "description": ("ImageDescription", "Caption-Abstract"),
    "headline": ("Headline",),
    "duration_seconds": ("Duration",),
    "sample_rate": ("SampleRate", "AudioSampleRate"),
    "channels": ("Channels", "AudioChannels", "NumChannels"),
    "bitrate": ("AvgBitrate", "AudioBitrate", "NominalBitrate"),
    "frame_rate": ("VideoFrameRate", "FrameRate"),
    "codec": ("CompressorID", "VideoCodecID", "CompressorName", "VideoCodec", "AudioFormat", "AudioCodecID"),
    "encrypted": ("Encryption",),
}


class StayOpen:
    """One ExifTool process answering file after file (`-stay_open True -@ -`)."""

    def __init__(self, *options: str) -> None:
        self._options = options
        self._process = subprocess.Popen(
            ["exiftool", "-stay_open", "True", "-@", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def read(self, path: Path) -> tuple[float, dict[str, Any]]:
        """(seconds, ExifTool's JSON record) for one file."""
        assert self._process.stdin is not None and self._process.stdout is not None
        started = time.perf_counter()
        self._process.stdin.write("\n".join([*self._options, str(path), "-execute", ""]))
        self._process.stdin.flush()
        lines: list[str] = []
        while True:
            line = self._process.stdout.readline()
            if not line or line.strip() == "{ready}":
                break
            lines.append(line)
        seconds = time.perf_counter() - started
        try:
            records = json.loads("".join(lines) or "[]")
        except ValueError:
            records = []
        return seconds, records[0] if records else {}

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.write("-stay_open\nFalse\n")
            self._process.stdin.flush()
        self._process.wait(timeout=30)


def available() -> bool:
    return shutil.which("exiftool") is not None


def has(record: dict[str, Any], tags: tuple[str, ...]) -> bool:
    return any(record.get(tag) not in (None, "", [], "0000:00:00 00:00:00") for tag in tags)


def coverage_table(rows: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[str]:
    """Lines of the table: per family, each field either tool reports, as `field exiftool/docpipe`.

    `rows` are (family, docpipe's metadata, ExifTool's record) of the files both read.
    """
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    files: dict[str, int] = defaultdict(int)
    for family, ours, theirs in rows:
        files[family] += 1
        for name, tags in COVERAGE.items():
            mine, other = ours.get(name) not in (None, "", []), has(theirs, tags)
            cell = counts[family][name]
            cell[0] += other
            cell[1] += mine
            cell[2] += mine and other
    lines = ["  family (files): field exiftool/docpipe (both) ... for each field either tool reports"]
    totals = [0, 0, 0]
    for family in sorted(counts):
        cells = [(n, c) for n, c in counts[family].items() if c[0] or c[1]]
        for _, cell in cells:
            totals = [t + c for t, c in zip(totals, cell, strict=True)]
        shown = ", ".join(f"{n} {c[0]}/{c[1]} ({c[2]})" for n, c in cells) or "(none)"
        lines.append(f"  {family} ({files[family]}): {shown}")
    lines.append(
        f"  all families: field present {totals[0]} times for ExifTool, {totals[1]} for docpipe, {totals[2]} both;"
        f" docpipe covers {100 * totals[2] / max(1, totals[0]):.0f}% of ExifTool's"
    )
    return lines
