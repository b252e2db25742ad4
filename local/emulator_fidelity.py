"""The local stack's AWS emulator, closer to AWS where moto (5.2.5) is not: uploads and lifetime.

`local.moto_server` (the emulator process) applies this before moto's server
starts, next to its Step Functions shim and its one-at-a-time DynamoDB.

- S3 stores whatever a browser upload (POST Object) sends, whatever its
  policy says. S3 checks the form against the policy it carries and the
  policy's signature. Here the same checks run first (signature by known
  credentials, expiration, and every condition: bucket, key, Content-Type,
  content-length-range, and no field the policy does not name); a failing
  upload gets S3's 403 `AccessDenied` and stores nothing.
- moto keeps running when the process that started it dies (Ctrl-C is
  handled, a SIGKILL is not), holding its port so the next `make run` fails.
  Here a watchdog ends the emulator once its parent is gone
  (DOCPIPE_EMULATOR_PARENT is the pid to watch).

Credentials the emulator knows, for POST signatures: the local stack's own
(`local.provision.LOCAL_ACCESS_KEY`) and those in the emulator's environment.
Anyone who holds emulator credentials can still write anything, exactly as
anyone holding IAM credentials with s3:PutObject can on AWS: the stack listens
on loopback only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

PARENT_ENV = "DOCPIPE_EMULATOR_PARENT"
WATCH_SECONDS = 0.5
_IGNORED_FIELDS = frozenset({"policy", "x-amz-signature", "file"})

StartResponse = Callable[..., Any]


# -- S3: POST Object against its policy --------------------------------------------


class PolicyRefused(Exception):
    """The upload breaks its policy (or carries none that verifies): S3 answers 403."""

    def __init__(self, message: str, code: str = "AccessDenied") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_post_object(environ: dict[str, Any]) -> bool:
    """A browser upload: a multipart POST to a bucket's path (path-style, as the local stack addresses S3)."""
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING"):
        return False
    if not str(environ.get("CONTENT_TYPE", "")).startswith("multipart/form-data"):
        return False
    parts = [p for p in str(environ.get("PATH_INFO", "")).split("/") if p]
    return len(parts) == 1


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check_post(
    bucket: str, fields: dict[str, str], file_size: int, secrets: dict[str, str], now: datetime | None = None
) -> None:
    """Raise PolicyRefused unless S3 would store this upload (Signature Version 4 POST policies)."""
    lowered = {k.lower(): v for k, v in fields.items()}
    policy_b64, signature = lowered.get("policy"), lowered.get("x-amz-signature")
    if not policy_b64 or not signature:
        raise PolicyRefused("Access Denied")
    _check_signature(policy_b64, signature, lowered, secrets)
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True))
        expiration = datetime.fromisoformat(str(policy["expiration"]).replace("Z", "+00:00"))
        conditions = list(policy["conditions"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise PolicyRefused("Invalid Policy: Invalid JSON.", code="InvalidPolicyDocument") from exc
    if expiration <= (now or datetime.now(UTC)):
        raise PolicyRefused("Invalid according to Policy: Policy expired.")
    named = {"bucket"}
    for condition in conditions:
        named |= _check_condition(condition, bucket, lowered, file_size)
    extra = sorted(k for k in lowered if k not in named and k not in _IGNORED_FIELDS and not k.startswith("x-ignore-"))
    if extra:
        raise PolicyRefused(f"Invalid according to Policy: Extra input fields: {extra[0]}")


def _check_signature(policy_b64: str, signature: str, fields: dict[str, str], secrets: dict[str, str]) -> None:
    if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise PolicyRefused("Only Signature Version 4 POST policies are accepted", code="InvalidRequest")
    scope = fields.get("x-amz-credential", "").split("/")
    if len(scope) != 5 or scope[3] != "s3" or scope[4] != "aws4_request":
        raise PolicyRefused("The credential of this upload is malformed", code="InvalidArgument")
    secret = secrets.get(scope[0])
    if secret is None:
        raise PolicyRefused("The AWS Access Key Id you provided does not exist in our records.", "InvalidAccessKeyId")
    expected = hmac.new(signing_key(secret, scope[1], scope[2]), policy_b64.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise PolicyRefused(
            "The request signature we calculated does not match the signature you provided.", "SignatureDoesNotMatch"
        )


def _check_condition(condition: Any, bucket: str, fields: dict[str, str], file_size: int) -> set[str]:
    """Check one policy condition; returns the (lower-cased) field names it covers."""
    if isinstance(condition, dict) and len(condition) == 1:
        ((name, value),) = condition.items()
        return _match("eq", str(name).lower(), str(value), bucket, fields, condition)
    if isinstance(condition, list) and len(condition) == 3:
        op = str(condition[0]).lower()
        if op == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if file_size > high:
                raise PolicyRefused("Your proposed upload exceeds the maximum allowed size", code="EntityTooLarge")
            if file_size < low:
                raise PolicyRefused("Your proposed upload is smaller than the minimum allowed size", "EntityTooSmall")
            return set()
        if op in ("eq", "starts-with") and str(condition[1]).startswith("$"):
            return _match(op, str(condition[1])[1:].lower(), str(condition[2]), bucket, fields, condition)
    raise PolicyRefused(f"Invalid Policy: Invalid Condition: {json.dumps(condition)}", code="InvalidPolicyDocument")


def _match(op: str, name: str, value: str, bucket: str, fields: dict[str, str], condition: Any) -> set[str]:
    actual = bucket if name == "bucket" else fields.get(name)
    ok = actual is not None and (actual == value if op == "eq" else actual.startswith(value))
    if not ok:
        raise PolicyRefused(f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}")
    return {name}


def known_secrets(env: dict[str, str] | None = None) -> dict[str, str]:
    from local.provision import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

    env = dict(os.environ) if env is None else env
    known = {LOCAL_ACCESS_KEY: LOCAL_SECRET_KEY}
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        known[env["AWS_ACCESS_KEY_ID"]] = env["AWS_SECRET_ACCESS_KEY"]
    return known


def _read_form(environ: dict[str, Any]) -> tuple[bytes, dict[str, str], int]:
    """(raw body, text fields, size of the file part); the body is put back for moto to read."""
    from werkzeug.formparser import parse_form_data

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
    probe = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    _, form, files = parse_form_data(probe)
    upload = files.get("file")
    size = len(upload.read()) if upload is not None else 0
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    return body, {k: form[k] for k in form}, size


def _refusal(error: PolicyRefused, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(error.code)}</Code>'
        f"<Message>{escape(error.message)}</Message><RequestId>docpipe-local</RequestId></Error>"
    ).encode()
    headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    origin = environ.get("HTTP_ORIGIN")
    if origin:  # the bucket's CORS rules admit the web app; S3 sends CORS headers on errors too
        headers.append(("Access-Control-Allow-Origin", origin))
    forbidden = error.code in ("AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId")
    start_response("403 Forbidden" if forbidden else "400 Bad Request", headers)
    return [body]


# -- the WSGI wrapper -------------------------------------------------------------


class Faithful:
    """moto's WSGI application with the gaps above closed."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self._app = app
        self._secrets = known_secrets()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if is_post_object(environ):
            _, fields, size = _read_form(environ)
            bucket = str(environ.get("PATH_INFO", "")).strip("/")
            try:
                check_post(bucket, fields, size, self._secrets)
            except PolicyRefused as refused:
                return _refusal(refused, environ, start_response)
        return self._app(environ, start_response)


def _patch_dispatcher() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__
    if getattr(original, "docpipe_faithful", False):
        return

    def call(self: Any, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        faithful = self.__dict__.get("_docpipe_faithful")
        if faithful is None:
            faithful = self.__dict__["_docpipe_faithful"] = Faithful(lambda e, s: original(self, e, s))
        result: Iterable[bytes] = faithful(environ, start_response)
        return result

    call.docpipe_faithful = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]


# -- the emulator ends with its parent ----------------------------------------------


def watch_parent(parent: int, interval: float = WATCH_SECONDS) -> threading.Thread:
    """End this process when `parent` is gone (its children are handed to another process then)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        print(f"emulator: its parent process {parent} is gone: stopping", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)  # moto's handler exits cleanly
        time.sleep(5)
        os._exit(0)

    thread = threading.Thread(target=watch, name="parent-watchdog", daemon=True)
    thread.start()
    return thread


def apply(env: dict[str, str] | None = None) -> None:
    """Close the gaps in this process (before moto's server starts)."""
    env = dict(os.environ) if env is None else env
    _patch_dispatcher()
    parent = env.get(PARENT_ENV)
    if parent and parent.isdigit():
        watch_parent(int(parent))
