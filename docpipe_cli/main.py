"""`docpipe`: the command-line client for docpipe's REST API.

    docpipe [--api URL] [--user NAME] login | logout | whoami
    docpipe upload FILE... [--wait]
    docpipe ls [-q TEXT] [--status S] [--family F] [--from DATE] [--to DATE] [--sort KEY] [--all]
    docpipe show ID | watch ID | download ID [-o PATH] | rm ID... | reprocess ID...
    docpipe rows ID [--csv] [--errors] [-o PATH]
    docpipe backfill start|status|stop ...      (administrators; see docpipe_cli/backfill.py)

The API is --api, else DOCPIPE_API, else the one used last; with none of them
the CLI says so rather than guess. The user is --user, else DOCPIPE_USER, else
whoever signed in last to that API. The password comes from --password,
DOCPIPE_PASSWORD (for DOCPIPE_USER only), or a prompt.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import getpass
import json
import mimetypes
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import requests

from docpipe_cli import backfill
from docpipe_cli.auth import LoginFailed, Session, TokenCache, claims
from docpipe_cli.words import word

FINAL = {"PROCESSED", "FAILED"}
STATUSES = ("PENDING", "PROCESSING", "PROCESSED", "FAILED")
FAMILY_ALIASES = {
    "csv": "tabular",
    "tsv": "tabular",
    "table": "tabular",
    "spreadsheet": "office",
    "docx": "office",
    "xlsx": "office",
    "pptx": "office",
    "odt": "office",
    "ods": "office",
    "odp": "office",
    "doc": "ole",
    "xls": "ole",
    "ppt": "ole",
    "html": "markup",
    "xml": "markup",
    "svg": "markup",
    "jpg": "image",
    "jpeg": "image",
    "png": "image",
    "gif": "image",
    "tiff": "image",
    "webp": "image",
    "heic": "image",
    "photo": "image",
    "zip": "archive",
    "tar": "archive",
    "gz": "archive",
    "eml": "email",
    "mail": "email",
    "txt": "text",
    "audio": "media",
    "video": "media",
    "mp3": "media",
    "mp4": "media",
    "wav": "media",
}
SORT_KEYS = ("created", "-created", "name", "-name", "size", "-size", "status", "-status")


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Client:
    """Calls the API with the session's id token; a refused token (401) signs in again, once."""

    def __init__(self, api: str, session: Session) -> None:
        self.api = api.rstrip("/")
        self.session = session

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        token = self.session.id_token()
        resp = self._send(method, path, token, **kwargs)
        if resp.status_code == 401:
            resp = self._send(method, path, self.session.refused(), **kwargs)
        if resp.status_code >= 400:
            try:
                err = resp.json()
                message = f"{resp.status_code} {err.get('code')}: {err.get('message')}"
            except ValueError:
                message = f"HTTP {resp.status_code}"
            raise ApiError(resp.status_code, message)
        return resp.json() if resp.content else None

    def _send(self, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
        try:
            return requests.request(method, self.api + path, headers={"Authorization": token}, timeout=30, **kwargs)
        except requests.RequestException as exc:
            raise ApiError(0, f"the API at {self.api} cannot be reached: {exc}") from exc


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

    def close(self) -> None:
        for part in self._parts:
            if not isinstance(part, bytes):
                part.close()


def _config(api: str) -> dict[str, Any]:
    try:
        resp = requests.get(f"{api.rstrip('/')}/config", timeout=10)
    except requests.RequestException as exc:
        raise ApiError(0, f"the API at {api} cannot be reached: {exc}") from exc
    if resp.status_code != 200:
        raise ApiError(resp.status_code, f"{api} does not look like a docpipe API (GET /config: {resp.status_code})")
    config: dict[str, Any] = resp.json()
    return config


# -- documents -------------------------------------------------------------------------
def upload(client: Client, paths: list[Path], wait: bool, out: Any) -> int:
    """Upload each file in turn; a file that cannot be sent is reported and the others go on."""
    failed: list[str] = []
    for path in paths:
        try:
            doc_id = _upload_one(client, path)
        except (ApiError, OSError, requests.RequestException, ValueError) as exc:
            print(f"{path}: not uploaded: {exc}", file=sys.stderr)
            failed.append(str(path))
            continue
        print(f"{doc_id}  {path.name}  uploaded", file=out)
        if wait and watch(client, doc_id, out) != 0:
            failed.append(str(path))
    if failed:
        names = ", ".join(failed)
        print(
            f"docpipe: {len(failed)} of {len(paths)} files failed ({len(paths) - len(failed)} fine): {names}",
            file=sys.stderr,
        )
        return 1
    return 0


def _upload_one(client: Client, path: Path) -> str:
    from tqdm import tqdm

    if not path.is_file():
        raise ValueError("not a file")
    size = path.stat().st_size
    if size == 0:
        raise ValueError("the file is empty")
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    created = client.call("POST", "/uploads", json={"filename": path.name, "content_type": ctype, "size": size})
    post = created["upload"]
    doc_id = str(created["document"]["id"])
    try:
        with tqdm(total=size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr, leave=False) as bar:
            body = MultipartFile(post["fields"], path, ctype, bar.update)
            try:
                resp = requests.post(post["url"], data=body, headers={"Content-Type": body.content_type}, timeout=600)
            finally:
                body.close()
        if resp.status_code >= 300:
            raise ApiError(resp.status_code, f"storage refused the file (HTTP {resp.status_code})")
    except BaseException:
        with contextlib.suppress(ApiError):  # nothing reached storage: remove the empty pending document
            client.call("DELETE", f"/documents/{doc_id}")
        raise
    return doc_id


def _list_params(args: argparse.Namespace) -> dict[str, str]:
    status = args.status.upper() if args.status else None
    if status and status not in STATUSES:
        raise ApiError(400, f"--status must be one of {', '.join(s.lower() for s in STATUSES)}")
    family = args.family.lower() if args.family else None
    family = FAMILY_ALIASES.get(family, family) if family else None
    pairs = (
        ("status", status),
        ("family", family),
        ("q", args.q),
        ("name", args.name),
        ("created_from", args.created_from),
        ("created_to", args.created_to),
        ("sort", args.sort),
    )
    return {k: v for k, v in pairs if v}


def ls(client: Client, args: argparse.Namespace, out: Any) -> int:
    params = _list_params(args)
    path = "/admin/documents" if args.all else "/documents"
    rows: list[dict[str, Any]] = []
    while True:
        page = client.call("GET", path, params={**params, "limit": 100})
        rows += page["items"]
        if not page["next"] or len(rows) >= args.max:
            break
        params["next"] = page["next"]
    if not rows:
        print("no documents" + (" match these filters" if params else ""), file=out)
        return 0
    for doc in rows[: args.max]:
        size = doc.get("size", "")
        records = doc.get("records") or {}
        ingest = f" rows {word(records.get('state', ''))}" if records else ""
        status, family, created = word(doc["status"]), doc.get("family", "-"), doc["created_at"][:19]
        print(f"{doc['id']}  {status:<10} {family:<8} {size!s:>10}  {created}  {doc['filename']}{ingest}", file=out)
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
            line = f"{doc_id}  {word(doc['status'])}"
            if records:
                written = f"{records.get('written', 0)}/{records.get('total', '?')}"
                line += f"  records {word(records.get('state'))} {written}"
                if records.get("failed"):
                    line += f" ({records['failed']} rejected: docpipe rows {doc_id} --errors)"
            if doc.get("error"):
                line += f"  {doc['error']['code']}: {doc['error']['message']}"
            print(line, file=out)
            last = state
        tabular = (doc.get("metadata") or {}).get("family") == "tabular"
        if records:
            records_done = records.get("state") in ("COMPLETE", "COMPLETE_WITH_ERRORS", "FAILED")
        else:  # a processed CSV's rows are queued right after: not done until they are stored
            records_done = not (tabular and doc["status"] == "PROCESSED")
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


def each(client: Client, ids: list[str], act: Callable[[str], str], out: Any) -> int:
    """Apply `act` to every id; report each, go on past failures, exit 1 if any failed."""
    failed = 0
    for doc_id in ids:
        try:
            print(f"{doc_id}  {act(doc_id)}", file=out)
        except ApiError as exc:
            print(f"{doc_id}: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def remove(client: Client, doc_id: str) -> str:
    """Deletion is asynchronous (202): the document reads DELETING until its object, rows and record are gone."""
    answer = client.call("DELETE", f"/documents/{doc_id}") or {}
    return f"deletion requested ({word(answer.get('status', 'DELETING'))}: gone once its rows are removed)"


def reprocess(client: Client, doc_id: str) -> str:
    answer = client.call("POST", f"/documents/{doc_id}/reprocess")
    return str(answer.get("reprocess", "requested")).replace("_", " ")


# -- rows --------------------------------------------------------------------------------
def pages(client: Client, path: str) -> Iterator[dict[str, Any]]:
    """Every item of a paged listing, page after page."""
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = client.call("GET", path, params=params)
        yield from page.get("items") or []
        if not page.get("next"):
            return
        params["next"] = page["next"]


def rows(client: Client, args: argparse.Namespace, out: Any) -> int:
    doc = client.call("GET", f"/documents/{args.id}")
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(Path(args.output).open("w", newline="", encoding="utf-8")) if args.output else out
        if args.errors:
            count = _write_errors(client, args.id, handle, args.csv)
            what = "rejected rows"
        else:
            columns = [str(c) for c in (doc.get("metadata") or {}).get("columns") or []]
            count = _write_rows(client, args.id, columns, handle, args.csv)
            what = "rows"
    records = doc.get("records") or {}
    note = f"{count} {what}"
    if records and records.get("state") not in ("COMPLETE", "COMPLETE_WITH_ERRORS", "FAILED"):
        note += f" so far (ingestion is {word(records.get('state'))})"
    print(f"docpipe: {note}" + (f" written to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def _write_rows(client: Client, doc_id: str, columns: list[str], handle: Any, as_csv: bool) -> int:
    writer = csv.writer(handle, lineterminator="\n") if as_csv else None
    header_written = False
    count = 0
    for item in pages(client, f"/documents/{doc_id}/records"):
        cells = item.get("cells") or {}
        if not header_written:
            columns = columns + [k for k in cells if k not in columns]
            _emit(writer, handle, ["row", *columns] if not as_csv else columns)
            header_written = True
        values = ["" if cells.get(c) is None else str(cells.get(c)) for c in columns]
        _emit(writer, handle, values if as_csv else [str(item.get("row")), *values])
        count += 1
    return count


def _write_errors(client: Client, doc_id: str, handle: Any, as_csv: bool) -> int:
    writer = csv.writer(handle, lineterminator="\n") if as_csv else None
    _emit(writer, handle, ["row", "line", "reason"])
    count = 0
    for item in pages(client, f"/documents/{doc_id}/records/errors"):
        _emit(writer, handle, [str(item.get("row", "")), str(item.get("line", "")), str(item.get("reason", ""))])
        count += 1
    return count


def _emit(writer: Any, handle: Any, values: list[str]) -> None:
    if writer is not None:
        writer.writerow(values)
    else:
        print("\t".join(v.replace("\t", " ").replace("\n", " ") for v in values), file=handle)


# -- who -------------------------------------------------------------------------------
def whoami(session: Session, source: str, out: Any) -> int:
    cached = session.cache.get(session.api, session.pool, session.user) if session.user else None
    if not cached:
        print(f"not signed in to {session.api} ({source})", file=out)
        return 1
    c = claims(str(cached["id_token"]))
    groups = c.get("cognito:groups") or []
    left = int(float(cached.get("expires_at", 0)) - time.time())
    expiry = f"expires in {left // 60} min" if left > 0 else "expired (renewed on the next call)"
    print(f"user    {c.get('cognito:username', session.user)}", file=out)
    print(f"sub     {c.get('sub')}", file=out)
    print(f"groups  {', '.join(groups) if groups else '-'}", file=out)
    print(f"api     {session.api} ({source})", file=out)
    print(f"pool    {session.pool}", file=out)
    print(f"token   {expiry}", file=out)
    return 0


# -- the command line ------------------------------------------------------------------------
def _date(text: str) -> str:
    try:
        datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("use an ISO date such as 2026-01-31") from exc
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="docpipe", description="docpipe command-line client")
    p.add_argument("--api", help="the API's base URL (else DOCPIPE_API, else the one used last)")
    p.add_argument("--user", default=os.environ.get("DOCPIPE_USER"), help="who to act as (else the last to sign in)")
    p.add_argument("--password")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("login", help="sign in (and remember the tokens)")
    sub.add_parser("logout", help="forget this user's tokens and revoke them")
    sub.add_parser("whoami", help="who the CLI acts as, against which API")
    up = sub.add_parser("upload", help="upload files (a file that fails is reported; the others go on)")
    up.add_argument("files", nargs="+", type=Path)
    up.add_argument("--wait", action="store_true", help="follow each file until it is processed")
    listing = sub.add_parser("ls", help="list documents, newest first")
    listing.add_argument("-q", "--search", dest="q", help="a piece of the name, title or author (any case)")
    listing.add_argument("--status", help="pending, processing, processed or failed")
    listing.add_argument("--family", help="pdf, image, csv (tabular), office, …")
    listing.add_argument("--name", help="file name prefix")
    listing.add_argument("--from", dest="created_from", type=_date, help="uploaded on or after (ISO date)")
    listing.add_argument("--to", dest="created_to", type=_date, help="uploaded on or before (ISO date)")
    listing.add_argument("--sort", choices=SORT_KEYS, help="order (default -created: newest first)")
    listing.add_argument("--all", action="store_true", help="every user's documents (admins)")
    listing.add_argument("--max", type=int, default=100)
    for name in ("show", "watch"):
        sub.add_parser(name).add_argument("id")
    dl = sub.add_parser("download")
    dl.add_argument("id")
    dl.add_argument("-o", "--output")
    for name, what in (("rm", "delete documents"), ("reprocess", "extract documents again")):
        sub.add_parser(name, help=what).add_argument("ids", nargs="+", metavar="id")
    rw = sub.add_parser("rows", help="a CSV's stored rows (or, with --errors, its rejected rows)")
    rw.add_argument("id")
    rw.add_argument("--csv", action="store_true", help="as CSV (default: tab-separated with row numbers)")
    rw.add_argument("--errors", action="store_true", help="the rejected rows and why")
    rw.add_argument("-o", "--output", help="write to this file")
    backfill.add_parser(sub)
    return p


def resolve_api(flag: str | None, cache: TokenCache) -> tuple[str, str]:
    """The API to use and where that came from; never a silent guess."""
    if flag:
        return flag.rstrip("/"), "--api"
    if os.environ.get("DOCPIPE_API"):
        return os.environ["DOCPIPE_API"].rstrip("/"), "DOCPIPE_API"
    last = cache.last_api()
    if last:
        return last, "the API used last"
    raise ApiError(
        0,
        "no API configured: pass --api URL or set DOCPIPE_API (`make run` prints the local stack's URL, "
        "http://127.0.0.1:8000 by default)",
    )


def _password_for(user: str | None, flag: str | None) -> str | None:
    if flag:
        return flag
    env_user = os.environ.get("DOCPIPE_USER")
    if os.environ.get("DOCPIPE_PASSWORD") and (not env_user or (user or "").lower() == env_user.lower()):
        return os.environ["DOCPIPE_PASSWORD"]  # DOCPIPE_PASSWORD is DOCPIPE_USER's, never another user's
    return None


def _ask(user: str) -> str | None:
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(f"password for {user}: ")


def main(argv: list[str] | None = None, out: Any = None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    cache = TokenCache()
    try:
        api, source = resolve_api(args.api, cache)
        config = _config(api)
        session = Session(api, config, args.user, _password_for(args.user, args.password), _ask, cache)
        if args.command == "whoami":
            return whoami(session, source, out)
        if args.command == "logout":
            user = session.user
            done = session.logout()
            print(f"{user} signed out of {api}" if done else f"nobody is signed in to {api}", file=out)
            return 0
        if args.command == "login":
            session.login()
            print(f"signed in to {api} as {session.user}", file=out)
            return 0
        return run(Client(api, session), args, out)
    except (ApiError, LoginFailed) as exc:
        print(f"docpipe: {exc}", file=sys.stderr)
        return 1
    except requests.RequestException as exc:
        print(f"docpipe: {exc}", file=sys.stderr)
        return 1


def run(client: Client, args: argparse.Namespace, out: Any) -> int:
    if args.command == "upload":
        return upload(client, args.files, args.wait, out)
    if args.command == "ls":
        return ls(client, args, out)
    if args.command == "show":
        return show(client, args.id, out)
    if args.command == "watch":
        return watch(client, args.id, out)
    if args.command == "rm":
        return each(client, args.ids, lambda i: remove(client, i), out)
    if args.command == "reprocess":
        return each(client, args.ids, lambda i: reprocess(client, i), out)
    if args.command == "rows":
        return rows(client, args, out)
    if args.command == "backfill":
        return backfill.run(client, args, out)
    return download(client, args.id, args.output, out)


if __name__ == "__main__":
    sys.exit(main())
