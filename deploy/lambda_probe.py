"""Runs inside `deploy.lambda_local` (the package at /var/task, nothing else of the project): prints JSON.

Used by tests/deploy/test_artifact.py and bench/coldstart.py. A script, not a module of the package.

    imports                 import app and every extension module the package ships; which libmagic is loaded
    extract <folder>        detect + extract every file of the folder as on_upload would
    invoke <handler> <json> call app.<handler>(event, context) as Lambda would; print its result
    cold <module> ...       seconds to import app and then each module (a cold start's imports)

Only the standard library, the package and the runtime's boto3 may be imported here.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

TASK_ROOT = Path(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))


class Context:
    """The attributes of Lambda's context object that handlers read."""

    def __init__(self, function_name: str, timeout_seconds: int = 300) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769"))
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ.get('AWS_REGION')}:123456789012:function:{function_name}"
        )
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "probe"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _extension_modules() -> list[str]:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    out = []
    for path in sorted(TASK_ROOT.rglob("*.so")):
        rel = path.relative_to(TASK_ROOT)
        if not path.name.endswith(suffixes) or rel.parts[0] in ("lib",) or rel.parts[0].endswith(".libs"):
            continue
        stem = path.name
        for suffix in suffixes:
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        out.append(".".join([*rel.parts[:-1], stem]))
    return out


def _mapped(fragment: str, pids: tuple[str, ...] = ("self",)) -> list[str]:
    found: set[str] = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as maps:
                found |= {line.split()[-1] for line in maps if fragment in line and "/" in line}
        except OSError:  # a worker that retired meanwhile
            continue
    return sorted(found)


def _sandbox_pids() -> tuple[str, ...]:
    """This process and its extraction workers (the children of the sandbox's zygote), where parsers load."""
    from chalicelib.extraction import sandbox

    zygote = sandbox.pool().zygote_pid()
    workers: list[str] = []
    if zygote is not None:
        for task in Path(f"/proc/{zygote}/task").iterdir():
            with contextlib.suppress(OSError):
                workers += (task / "children").read_text().split()
    return ("self", *workers)


def imports() -> dict[str, Any]:
    import app

    failed = {}
    modules = _extension_modules()
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    from chalicelib.extraction import detect

    pdf = detect.libmagic(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n").mime_type
    import magic

    return {
        "handlers": sorted(n for n in dir(app) if callable(getattr(app, n, None)) and n.startswith(("on_", "sweep"))),
        "extension_modules": modules,
        "failed": failed,
        "libmagic": _mapped("libmagic"),
        "magic_module": magic.__file__,
        "pdf": pdf,
        "sys_path": sys.path,
    }


def extract(folder: str) -> dict[str, Any]:
    from chalicelib.extraction.extract import extract as run
    from chalicelib.extraction.reader import bytes_reader
    from chalicelib.extraction.text import read_text

    out = {}
    for path in sorted(Path(folder).iterdir()):
        try:
            reader = bytes_reader(path.read_bytes())
            result = run(reader, path.name)
            meta = result.metadata
            found, warnings = read_text(reader, meta)
            out[path.name] = {
                "family": meta.get("family"),
                "mime_type": meta.get("mime_type"),
                "metadata": meta,
                "text": None if found is None else found.to_dict(),
                "text_warnings": warnings,
            }
        except Exception as exc:
            out[path.name] = {"error": f"{type(exc).__name__}: {exc}"}
    pids = _sandbox_pids()
    out["_native"] = {
        "libmagic": _mapped("libmagic", pids),
        "pillow": _mapped("pillow.libs", pids),
        "pdfium": _mapped("libpdfium", pids),
    }
    return out


def invoke(handler: str, event_file: str) -> Any:
    import app

    event = json.loads(Path(event_file).read_text())
    return getattr(app, handler)(event, Context(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", handler)))


def cold(modules: list[str]) -> dict[str, Any]:
    start = time.perf_counter()
    import app  # noqa: F401

    after_app = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    end = time.perf_counter()
    packaged = [m for m in list(sys.modules.values()) if str(getattr(m, "__file__", "")).startswith(str(TASK_ROOT))]
    sources = [m for m in packaged if str(m.__file__).endswith(".py")]
    without = sorted(m.__name__ for m in sources if not os.path.exists(str(getattr(m, "__cached__", "") or "")))
    return {
        "app": after_app - start, "handler": end - after_app, "total": end - start,
        "modules": len(sources), "without_pyc": without,
    }  # fmt: skip


def main() -> None:
    mode, *args = sys.argv[1:]
    if mode == "imports":
        result: Any = imports()
    elif mode == "extract":
        result = extract(args[0])
    elif mode == "invoke":
        result = invoke(args[0], args[1])
    elif mode == "cold":
        result = cold(args)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print("PROBE-RESULT " + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
