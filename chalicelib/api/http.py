"""The HTTP edge: who is calling, and how errors become responses.

`api` wraps every view: domain errors become `{"code", "message"}` with their
status; anything unexpected is logged with the request id and answered with a
plain 500 that names nothing internal.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.errors import BadRequest, DocpipeError, Unauthorized
from chalicelib.models import Caller

log = logging.getLogger("docpipe.http")

JSON = {"Content-Type": "application/json"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, default=str), status_code=status, headers={**JSON, **(headers or {})})


def api[F: Callable[..., Any]](view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DocpipeError as exc:
            return json_response(exc.to_dict(), exc.http_status)
        except Exception:
            log.exception("unhandled error in %s", view.__name__)
            return json_response({"code": "internal", "message": "Internal error"}, 500)

    return wrapper  # type: ignore[return-value]


def groups_from_claim(raw: Any) -> frozenset[str]:
    """The caller's group names, each whole, from `cognito:groups` in any form API Gateway delivers it.

    The id token holds a JSON array. API Gateway hands the function every claim
    as a string: one group as its bare name, several as a bracketed list,
    "[readers admins]" or "[readers, admins]". A JSON array (a list, or its
    text) is read as such. Cognito group names cannot contain whitespace, so a
    comma separates names only where whitespace follows it: "readers,admins"
    and "[readers,admins]" are one group, which is not `admins`.
    """
    if isinstance(raw, (list, tuple)):
        return frozenset(str(g) for g in raw if str(g))
    if not isinstance(raw, str):
        return frozenset()
    text = raw.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return frozenset(text.split())
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, list):
        return frozenset(str(g) for g in parsed if str(g))
    names = text[1:-1].split()
    if len(names) > 1 and all(n.endswith(",") for n in names[:-1]):  # "[a, b]": a comma and a space separate
        names = [n[:-1] for n in names[:-1]] + names[-1:]
    return frozenset(n for n in names if n)


def caller_from_context(context: dict[str, Any] | None, admin_group: str) -> Caller:
    """The verified identity API Gateway (or the local gateway) put in the request context."""
    claims = ((context or {}).get("authorizer") or {}).get("claims") or {}
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("Missing or invalid credentials")
    groups = groups_from_claim(claims.get("cognito:groups"))
    return Caller(sub=sub, username=claims.get("cognito:username"), groups=groups, admin=admin_group in groups)


MAX_BODY_BYTES = 256 * 1024


def json_body(raw: bytes | str | None) -> Any:
    """The request body as JSON, or a clear 400 (Chalice's own error shape is not ours)."""
    if not raw:
        raise BadRequest("A JSON body is required", code="invalid_body")
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest("The body is too large", code="invalid_body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The body is not valid JSON", code="invalid_body") from exc
    except RecursionError as exc:  # "[[[[...": json's decoder recurses once per level
        raise BadRequest("The body is nested too deeply", code="invalid_body") from exc


def query_dict(params: Any) -> dict[str, str]:
    """Query parameters as a plain dict; a repeated parameter is a 400, not a silent pick."""
    if not params:
        return {}
    out: dict[str, str] = {}
    for name in params:
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if len(values) != 1:
            raise BadRequest(f"Query parameter {name} may appear once", code="invalid_parameter")
        out[str(name)] = str(values[0])
    return out


def normalize_error(response: Any) -> Any:
    """Chalice's own errors ({"Code", "Message"}: bad media type, wrong method...) in docpipe's shape."""
    body = response.body
    if isinstance(body, dict) and set(body) == {"Code", "Message"} and response.status_code >= 400:
        code = re.sub(r"(?<!^)(?=[A-Z])", "_", str(body["Code"]).removesuffix("Error")).lower()
        response.body = json.dumps({"code": code or "error", "message": str(body["Message"])})
        response.headers = {**(response.headers or {}), **JSON}
    return response
