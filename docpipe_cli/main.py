"""`docpipe`: the command-line client for docpipe's REST API.

    docpipe [--api URL] [--user NAME] upload FILE... [--wait]
    docpipe ls [--status S] [--family F] [--name PREFIX] [--all]
    docpipe show ID
    docpipe watch ID
    docpipe download ID [-o PATH]
    docpipe backfill start|status|stop ...      (administrators; see docpipe_cli/backfill.py)

The password comes from --password, DOCPIPE_PASSWORD, or a prompt.
"""

from __future__ import annotations

import argparse
import getpass
import json
import mimetypes
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO

import requests

from docpipe_cli import backfill
from docpipe_cli.auth import LoginFailed, id_token

FINAL = {"PROCESSED", "FAILED"}


class ApiError(RuntimeError):
    pass


class Client:
    def __init__(self, api: str, token: str) -> None:
        self.api = api.rstrip("/")
        self.headers = {"Authorization": token}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = requests.request(method, self.api + path, headers=self.headers, timeout=30, **kwargs)
        if resp.status_code >= 400:
            try:
                err = resp.json()
                raise ApiError(f"{resp.status_code} {err.get('code')}: {err.get('message')}")
            except ValueError:
                raise ApiError(f"HTTP {resp.status_code}") from None
        return resp.json() if resp.content else None


class MultipartFile:
    """A multipart/form-data body streamed from disk with a known length (S3 POST needs Content-Length)."""

    def __init__(self, fields: dict[str, str], path: Path, content_type: str, progress: Any) -> None:
        self.boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._parts: list[bytes | BinaryIO] = [head, path.open("rb"), tail]
        self.len = len(head) + path.stat().st_size + len(tail)  # requests sends it as Content-Length
        self._progress = progress

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def read(self, size: int = -1) -> bytes:
        size = 1 << 20 if size is None or size < 0 else size
        while self._parts:
            part = self._parts[0]
            if isinstance(part, bytes):
                chunk, rest = part[:size], part[size:]
                if rest:
                    self._parts[0] = rest
                else:
                    self._parts.pop(0)
                return chunk
            data = part.read(size)
            if data:
                self._progress(len(data))
                return data
            part.close()
            self._parts.pop(0)
        return b""


def _config(api: str) -> dict[str, Any]:
    resp = requests.get(f"{api.rstrip('/')}/config", timeout=10)
    resp.raise_for_status()
    config: dict[str, Any] = resp.json()
    return config


def upload(client: Client, paths: list[Path], wait: bool, out: Any) -> int:
    from tqdm import tqdm

    status = 0
    for path in paths:
        if not path.is_file():
            print(f"{path}: not a file", file=sys.stderr)
            status = 1
            continue
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        created = client.call(
            "POST", "/uploads", json={"filename": path.name, "content_type": ctype, "size": path.stat().st_size}
        )
        post = created["upload"]
        with tqdm(
            total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr, leave=False
        ) as bar:
            body = MultipartFile(post["fields"], path, ctype, bar.update)
            resp = requests.post(post["url"], data=body, headers={"Content-Type": body.content_type}, timeout=600)
        if resp.status_code >= 300:
            print(f"{path}: upload refused by storage (HTTP {resp.status_code})", file=sys.stderr)
            status = 1
            continue
        doc_id = created["document"]["id"]
        print(f"{doc_id}  {path.name}  uploaded", file=out)
        if wait and watch(client, doc_id, out) != 0:
            status = 1
    return status


def ls(client: Client, args: argparse.Namespace, out: Any) -> int:
    params = {k: v for k, v in (("status", args.status), ("family", args.family), ("name", args.name)) if v}
    path = "/admin/documents" if args.all else "/documents"
    rows: list[dict[str, Any]] = []
    while True:
        page = client.call("GET", path, params={**params, "limit": 100})
        rows += page["items"]
        if not page["next"] or len(rows) >= args.max:
            break
        params["next"] = page["next"]
    for doc in rows[: args.max]:
        size = doc.get("size", "")
        print(
            f"{doc['id']}  {doc['status']:<10} {doc.get('family', '-'):<8} {size!s:>10}  {doc['created_at'][:19]}  "
            f"{doc['filename']}",
            file=out,
        )
    return 0


def show(client: Client, doc_id: str, out: Any) -> int:
    print(json.dumps(client.call("GET", f"/documents/{doc_id}"), indent=2, ensure_ascii=False), file=out)
    return 0


def watch(client: Client, doc_id: str, out: Any, timeout: float = 600) -> int:
    """Follow a document until it and its records ingestion reach a final state."""
    delay, last = 0.3, None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = client.call("GET", f"/documents/{doc_id}")
        records = doc.get("records") or {}
        state = (doc["status"], records.get("state"), records.get("written"))
        if state != last:
            line = f"{doc_id}  {doc['status']}"
            if records:
                line += f"  records {records.get('state')} {records.get('written', 0)}/{records.get('total', '?')}"
            if doc.get("error"):
                line += f"  {doc['error']['code']}: {doc['error']['message']}"
            print(line, file=out)
            last = state
        records_done = not records or records.get("state") in ("COMPLETE", "COMPLETE_WITH_ERRORS", "FAILED")
        if doc["status"] in FINAL and records_done:
            return 0 if doc["status"] == "PROCESSED" else 1
        time.sleep(delay)
        delay = min(delay * 1.5, 5.0)
    print(f"{doc_id}: still not final after {timeout:.0f}s", file=sys.stderr)
    return 1


def download(client: Client, doc_id: str, target: str | None, out: Any) -> int:
    from tqdm import tqdm

    link = client.call("GET", f"/documents/{doc_id}/download")
    path = Path(target or Path(link["filename"]).name or doc_id)
    with requests.get(link["url"], stream=True, timeout=600) as resp:
        resp.raise_for_status()
        total = int(resp.headers.get("Content-Length", 0)) or None
        with (
            path.open("wb") as handle,
            tqdm(total=total, unit="B", unit_scale=True, desc=path.name, file=sys.stderr, leave=False) as bar,
        ):
            for chunk in resp.iter_content(1 << 16):
                handle.write(chunk)
                bar.update(len(chunk))
    print(f"{doc_id}  saved to {path}", file=out)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="docpipe", description="docpipe command-line client")
    p.add_argument("--api", default=os.environ.get("DOCPIPE_API", "http://127.0.0.1:8000"))
    p.add_argument("--user", default=os.environ.get("DOCPIPE_USER"))
    p.add_argument("--password", default=os.environ.get("DOCPIPE_PASSWORD"))
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upload", help="upload files")
    up.add_argument("files", nargs="+", type=Path)
    up.add_argument("--wait", action="store_true", help="follow each file until it is processed")
    listing = sub.add_parser("ls", help="list documents, newest first")
    listing.add_argument("--status")
    listing.add_argument("--family")
    listing.add_argument("--name", help="file name prefix")
    listing.add_argument("--all", action="store_true", help="every user's documents (admins)")
    listing.add_argument("--max", type=int, default=100)
    for name in ("show", "watch"):
        sub.add_parser(name).add_argument("id")
    dl = sub.add_parser("download")
    dl.add_argument("id")
    dl.add_argument("-o", "--output")
    backfill.add_parser(sub)
    return p


def main(argv: list[str] | None = None, out: Any = None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    try:
        config = _config(args.api)
        password = args.password
        if args.user and not password:
            password = getpass.getpass(f"password for {args.user}: ")
        client = Client(args.api, id_token(args.api, config, args.user, password))
        if args.command == "upload":
            return upload(client, args.files, args.wait, out)
        if args.command == "ls":
            return ls(client, args, out)
        if args.command == "show":
            return show(client, args.id, out)
        if args.command == "watch":
            return watch(client, args.id, out)
        if args.command == "backfill":
            return backfill.run(client, args, out)
        return download(client, args.id, args.output, out)
    except (ApiError, LoginFailed, requests.RequestException) as exc:
        print(f"docpipe: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
