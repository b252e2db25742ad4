"""What parsing libraries say while they read one file: counted, the first few kept, never a flood of logs.

Parsers repair damaged files out loud: pypdf logs a warning for every object
whose offset is wrong, Pillow and others call `warnings.warn`. One damaged
900 KB PDF made 33,174 such lines, which on Lambda is CloudWatch ingestion
cost and noise that hides everything else. While bounded work runs in its
child process (see `bounds`), `Noise.capturing` takes every log record of a
logger outside `docpipe` and every Python warning: it counts them and keeps
the first KEEP, so the parent logs one line per file. docpipe's own records
pass through unchanged. (It swaps process-wide logging state, so it is used
only where one thread runs: in the child. Parsing in-process, with the
sandbox off for debugging, shows every library line.)

`plain` takes what a library's message may carry but a reader must not see
out: object reprs with memory addresses (`IndirectObject(1, 0,
140625350322384)`, `<... object at 0x7f...>`), which say nothing about the
file and leak the process's address layout.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from typing import Any

KEEP = 5
MAX_MESSAGE = 200

_INDIRECT = re.compile(r"IndirectObject\((\d+), (\d+), \d+\)")
_AT_ADDRESS = re.compile(r"<([^<>]*?) at 0x[0-9a-fA-F]+>")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{8,}\b")


def plain(text: str) -> str:
    """The message without object reprs and memory addresses (a PDF reference reads "1 0 R")."""
    text = _INDIRECT.sub(r"\1 \2 R", text)
    text = _AT_ADDRESS.sub(lambda m: f"<{_name(m.group(1))}>", text)
    return _ADDRESS.sub("0x…", text)


def _name(inner: str) -> str:
    """ "pkg.mod.Class object" -> "Class", "function f" -> "f"."""
    words = inner.removesuffix(" object").split()
    return words[-1].rsplit(".", 1)[-1] if words else "object"


def _ours(name: str) -> bool:
    return name == "docpipe" or name.startswith("docpipe.")


class Noise(logging.Handler):
    """Counts third-party log records and Python warnings; keeps the first KEEP, made plain and short."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: list[str] = []
        self._passed: list[logging.Handler] = []

    def note(self, text: str) -> None:
        self.count += 1
        if len(self.first) < KEEP:
            line = plain(" ".join(text.split()))
            self.first.append(line[:MAX_MESSAGE] + ("..." if len(line) > MAX_MESSAGE else ""))

    def emit(self, record: logging.LogRecord) -> None:
        if _ours(record.name):
            for handler in self._passed:
                if record.levelno >= handler.level:
                    handler.handle(record)
            return
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        self.note(f"{record.name}: {message}")

    def summary(self) -> dict[str, Any]:
        return {"count": self.count, "first": list(self.first)}

    @contextlib.contextmanager
    def capturing(self) -> Iterator[Noise]:
        """Route the root logger and `warnings.showwarning` here for the duration."""
        root = logging.getLogger()
        saved_handlers, saved_show = root.handlers[:], warnings.showwarning
        self._passed = saved_handlers
        root.handlers = [self]

        def show(message: Any, category: Any, filename: str, lineno: int, *args: Any, **kwargs: Any) -> None:
            self.note(f"{getattr(category, '__name__', 'Warning')}: {message}")

        warnings.showwarning = show
        try:
            yield self
        finally:
            root.handlers = saved_handlers
            warnings.showwarning = saved_show


def report(summary: dict[str, Any] | None, what: str = "parser") -> None:
    """One log line for what the libraries said while reading a file (nothing when they said nothing)."""
    if not summary or not summary.get("count"):
        return
    log = logging.getLogger("docpipe.parsers")
    first = summary.get("first") or []
    log.warning(
        "%s warnings while reading the file: %d (first %d: %s)",
        what,
        summary["count"],
        len(first),
        " | ".join(first),
        extra={"parser_warnings": summary["count"]},
    )
