"""`docpipe backfill`: index objects that have no document, re-extract stale documents (administrators).

    docpipe backfill start [--missing [PREFIX]] [--stale] [--family F] [--status S]
                           [--created-from DATE] [--created-to DATE] [--below N] [--max-concurrency N] [--wait]
    docpipe backfill status [ID] [--watch]
    docpipe backfill stop ID

`start` needs --missing and/or --stale (any stale filter implies --stale).
`status` without an id lists the runs, newest first.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Protocol

from docpipe_cli.words import word

FINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
POLL_SECONDS = 2.0


class Caller(Protocol):
    def call(self, method: str, path: str, **kwargs: Any) -> Any: ...


def add_parser(sub: Any) -> None:
    bf = sub.add_parser("backfill", help="index objects without a document, re-extract stale documents (admins)")
    commands = bf.add_subparsers(dest="backfill_command", required=True)
    start = commands.add_parser("start", help="start a backfill")
    start.add_argument(
        "--missing",
        nargs="?",
        const="uploads/",
        metavar="PREFIX",
        help="objects under PREFIX (default uploads/) that have no document",
    )
    start.add_argument("--stale", action="store_true", help="documents extracted by an older extractor version")
    start.add_argument("--family", help="only stale documents of this family (pdf, image, ...)")
    start.add_argument("--status", choices=["PROCESSED", "FAILED"], help="only stale documents in this status")
    start.add_argument("--created-from", help="only stale documents created on or after (ISO 8601)")
    start.add_argument("--created-to", help="only stale documents created on or before (ISO 8601; a date is the day)")
    start.add_argument("--below", type=int, help="extractor versions below N are stale (default: the current one)")
    start.add_argument("--max-concurrency", type=int, help="batches in flight at once (default 4)")
    start.add_argument("--wait", action="store_true", help="follow the run until it ends")
    status = commands.add_parser("status", help="one run's progress, or every run")
    status.add_argument("id", nargs="?")
    status.add_argument("--watch", action="store_true", help="follow the run until it ends")
    commands.add_parser("stop", help="stop a run (items in progress finish)").add_argument("id")


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    """The POST /admin/backfills body for `backfill start`'s options."""
    stale: dict[str, Any] = {}
    for option, field in (
        ("family", "family"),
        ("status", "status"),
        ("created_from", "created_from"),
        ("created_to", "created_to"),
        ("below", "extractor_version_below"),
    ):
        value = getattr(args, option)
        if value is not None:
            stale[field] = value
    body: dict[str, Any] = {}
    if args.missing is not None:
        body["missing"] = {"prefix": args.missing}
    if args.stale or stale:
        body["stale"] = stale
    if args.max_concurrency is not None:
        body["max_concurrency"] = args.max_concurrency
    return body


def run(client: Caller, args: argparse.Namespace, out: Any) -> int:
    if args.backfill_command == "start":
        body = request_body(args)
        if not body.get("missing") and "stale" not in body:
            print("docpipe: backfill start needs --missing and/or --stale", file=out)
            return 2
        started = client.call("POST", "/admin/backfills", json=body)
        print(describe(started), file=out)
        return follow(client, started["id"], out) if args.wait else 0
    if args.backfill_command == "stop":
        print(describe(client.call("DELETE", f"/admin/backfills/{args.id}")), file=out)
        return 0
    if args.id is None:
        return list_runs(client, out)
    if args.watch:
        return follow(client, args.id, out)
    print(describe(client.call("GET", f"/admin/backfills/{args.id}")), file=out)
    return 0


def list_runs(client: Caller, out: Any, limit: int = 100) -> int:
    params: dict[str, Any] = {"limit": min(limit, 100)}
    shown = 0
    while shown < limit:
        page = client.call("GET", "/admin/backfills", params=params)
        for run in page["items"]:
            print(summary_line(run), file=out)
            shown += 1
        if not page.get("next"):
            break
        params["next"] = page["next"]
    if not shown:
        print("no backfills yet", file=out)
    return 0


def follow(client: Caller, run_id: str, out: Any, poll: float = POLL_SECONDS, timeout: float = 86400) -> int:
    """Print progress whenever it changes until the run ends; 0 when it SUCCEEDED."""
    deadline, last = time.monotonic() + timeout, ""
    while True:
        run = client.call("GET", f"/admin/backfills/{run_id}")
        line = progress_line(run)
        if line != last:
            print(f"{word(run['status']):<9} {line}", file=out)
            last = line
        if run["status"] in FINAL:
            print(describe(run), file=out)
            return 0 if run["status"] == "SUCCEEDED" else 1
        if time.monotonic() > deadline:
            print(f"docpipe: still {word(run['status'])} after {timeout:.0f}s", file=out)
            return 1
        time.sleep(poll)


def selection_text(selection: dict[str, Any]) -> str:
    parts = []
    if "missing" in selection:
        parts.append(f"objects without a document under {selection['missing']['prefix']}")
    if "stale" in selection:
        stale = dict(selection["stale"])
        text = f"documents extracted before version {stale.pop('below', '?')}"
        if stale:
            text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(stale.items())) + ")"
        parts.append(text)
    return "; ".join(parts) or "nothing"


def progress_line(run: dict[str, Any]) -> str:
    p = run.get("progress") or {}
    names = ("listed", "queued", "processed", "failed", "skipped")
    line = "  ".join(f"{name} {p.get(name, 0)}" for name in names)
    if p.get("abandoned"):
        line += f"  abandoned {p['abandoned']}"
    return line


def summary_line(run: dict[str, Any]) -> str:
    return f"{run['id']}  {word(run['status']):<9} {run['created_at'][:19]}  {progress_line(run)}"


def describe(run: dict[str, Any]) -> str:
    lines = [
        f"{run['id']}  {word(run['status'])}",
        f"  started   {run['created_at']} by {run.get('created_by') or '?'}",
        f"  selection {selection_text(run.get('selection') or {})}",
        f"  progress  {progress_line(run)}",
    ]
    if run.get("skipped_by"):
        lines.append("  skipped   " + ", ".join(f"{k} {v}" for k, v in sorted(run["skipped_by"].items())))
    if run.get("finished_at"):
        lines.append(f"  ended     {run['finished_at']}")
    if run.get("error"):
        lines.append(f"  error     {run['error']}")
    return "\n".join(lines)
