"""The local API Gateway: Chalice's local server with Cognito JWTs really verified.

`chalice local` passes any (even unsigned) token's claims through. Here a
route that declares a `CognitoUserPoolAuthorizer` is invoked only after the
token verifies (see `local.auth`); otherwise the answer is 401, as on AWS.
Paths that are not API routes are the site: the static web app from `web/`
with its security headers, its `config.json`, and the stand-in for Cognito's
hosted UI (`local.hosted_ui`), so the browser signs in locally along the same
authorization-code + PKCE path as on AWS.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from chalice.app import Chalice, CognitoUserPoolAuthorizer
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    LambdaContext,
    LocalChalice,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    ThreadedHTTPServer,
)

from local.auth import CognitoVerifier, InvalidToken, gateway_claims
from local.hosted_ui import PATHS as HOSTED_UI_PATHS
from local.hosted_ui import HostedUi, Reply

log = logging.getLogger("docpipe.gateway")

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
UNAUTHORIZED = json.dumps({"code": "unauthorized", "message": "Unauthorized"}).encode()


class Unauthorized(LocalGatewayException):
    CODE = 401


@dataclass
class Site:
    """What the gateway serves besides the API."""

    web_root: Path = WEB_ROOT
    hosted_ui: HostedUi | None = None
    config: Callable[[str], dict[str, Any]] | None = None
    """`config.json` for the origin the page was loaded from (None: no config.json)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Security headers added to every page of the app (as CloudFront's response headers policy does)."""


class VerifyingAuthorizer(LocalGatewayAuthorizer):
    def __init__(self, app: Chalice, verifier: CognitoVerifier) -> None:
        super().__init__(app)
        self._verifier = verifier

    def authorize(self, raw_path: str, lambda_event: Any, lambda_context: LambdaContext) -> Any:
        route = self._route_for_event(lambda_event)
        if route is None or not isinstance(route.authorizer, CognitoUserPoolAuthorizer):
            return super().authorize(raw_path, lambda_event, lambda_context)
        headers = {k.lower(): v for k, v in (lambda_event.get("headers") or {}).items()}
        try:
            claims = self._verifier.verify(headers.get("authorization"))
        except InvalidToken as exc:
            log.info("refused token: %s", exc)
            raise Unauthorized(
                {"x-amzn-RequestId": lambda_context.aws_request_id, "x-amzn-ErrorType": "UnauthorizedException"},
                UNAUTHORIZED,
            ) from exc
        lambda_event["requestContext"]["authorizer"] = {
            "claims": gateway_claims(claims),
            "principalId": claims.get("cognito:username", claims["sub"]),
        }
        return lambda_event, lambda_context


class Handler(ChaliceRequestHandler):
    def __init__(
        self,
        request: Any,
        client_address: Any,
        server: Any,
        *,
        app_object: Chalice,
        config: Config,
        verifier: CognitoVerifier,
        site: Site,
    ) -> None:
        self._site = site
        self._web_root = site.web_root
        self._verifier = verifier
        self._app_object = app_object
        self._config = config
        super().__init__(request, client_address, server, app_object, config)

    def setup(self) -> None:
        super().setup()
        gateway = LocalGateway(self._app_object, self._config)
        gateway._authorizer = VerifyingAuthorizer(self._app_object, self._verifier)
        self.local_gateway = gateway

    def _send_error_response(self, error: LocalGatewayException) -> None:
        """API Gateway's own errors (unknown route, refused token) in docpipe's {code, message} shape."""
        try:
            parsed = json.loads(error.body or b"{}")
            message = parsed.get("message") or parsed.get("Message")
        except (ValueError, AttributeError):
            message = None
        codes = {401: "unauthorized", 403: "forbidden"}
        body = {"code": codes.get(error.CODE, "error"), "message": message or "Forbidden"}
        self._send_http_response(
            error.CODE, {**error.headers, "Content-Type": "application/json"}, json.dumps(body).encode()
        )

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _generic_handle(self) -> None:
        path = urlsplit(self.path).path
        if path in HOSTED_UI_PATHS and self._site.hosted_ui is not None:
            self._hosted_ui(path)
            return
        if path == "/config.json" and self._site.config is not None and self.command in ("GET", "HEAD"):
            self._send_reply(self._config_json())
            return
        if self.command in ("GET", "HEAD") and not self._is_api(path):
            self._serve_static(path)
            return
        if self.command not in ("GET", "HEAD", "OPTIONS"):
            self.server.changes += 1  # read by the local stack's autosave: something may have changed
        super()._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle
    do_TRACE = do_CONNECT = _generic_handle

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, unknown method) as JSON, never an HTML page."""
        if code == 501:
            code, message = 405, "Unsupported method"
        body = json.dumps({"code": "bad_request" if code == 400 else "error", "message": message or "Error"}).encode()
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def _is_api(self, path: str) -> bool:
        try:
            self.local_gateway.event_converter._route_matcher.match_route(path)
        except ValueError:
            return False
        return True

    def _serve_static(self, path: str) -> None:
        rel = posixpath.normpath(unquote(path)).lstrip("/")
        try:
            target = (self._web_root / (rel or "index.html")).resolve()
            if target.is_dir():
                target = target / "index.html"
            found = self._web_root.resolve() in target.parents and target.is_file()
        except (ValueError, OSError):  # a NUL byte or a name the file system refuses: no such file
            found = False
        if not found:
            body = json.dumps({"code": "not_found", "message": "No such resource"}).encode()
            self._send_http_response(404, {"Content-Type": "application/json"}, body)
            return
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        headers = {
            **self._site.headers,
            "Content-Type": ctype,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        self._send_http_response(200, headers, target.read_bytes())

    def _origin(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def _config_json(self) -> Reply:
        assert self._site.config is not None
        body = json.dumps(self._site.config(self._origin()), indent=2).encode()
        headers = {**self._site.headers, "Content-Type": "application/json", "Cache-Control": "no-cache"}
        return Reply(200, headers, body)

    def _hosted_ui(self, path: str) -> None:
        assert self._site.hosted_ui is not None
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 64 * 1024)) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._send_reply(self._site.hosted_ui.handle(self.command, path, urlsplit(self.path).query, headers, body))

    def _send_reply(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in {**reply.headers, "Content-Length": str(len(reply.body))}.items():
            self.send_header(name, value)
        for cookie in reply.cookies:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        if self.command != "HEAD" and reply.body:
            self.wfile.write(reply.body)


def make_server(
    app: Chalice, verifier: CognitoVerifier, host: str, port: int, site: Site | None = None
) -> ThreadedHTTPServer:
    """A threaded HTTP server; `app.current_request` becomes thread-local as in `chalice local`."""
    if not isinstance(app, LocalChalice):
        app.__class__ = LocalChalice
    config = Config.create(chalice_stage="local", app_name=app.app_name)
    handler = partial(Handler, app_object=app, config=config, verifier=verifier, site=site or Site())
    server = ThreadedHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.changes = 0
    return server


def site_for(stack: Any, idp: Any, aws_url: str, api_url: str) -> Site:
    """The local site: the web app served by the gateway at `api_url` (and its other registered origins),
    signing in through the gateway's hosted UI, uploading to and previewing from the emulator's S3."""
    from deploy.web import security_headers, web_config

    origins = {o.rstrip("/") for o in stack.names.web_origins}

    def config(origin: str) -> dict[str, Any]:
        here = origin if origin in origins else api_url
        return web_config(
            api="",
            region=stack.names.region,
            user_pool_id=stack.user_pool_id,
            client_id=stack.client_id,
            auth_domain=here,
            app_origin=here,
        )

    return Site(
        hosted_ui=HostedUi(idp, stack.user_pool_id),
        config=config,
        headers=security_headers([aws_url], https=False),
    )
