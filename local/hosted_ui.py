"""Cognito's hosted UI and OAuth 2.0 endpoints for the local stack, backed by the emulator's user pool.

On AWS the web app signs in through the user pool's domain
(`https://<prefix>.auth.<region>.amazoncognito.com`): the authorization-code
grant with PKCE. The emulator has the user pool but not its domain's web
endpoints, so the local gateway serves them, with the behaviour the app relies
on, and checks passwords against the emulator's pool (InitiateAuth):

- `GET /oauth2/authorize`: checks the app client, that `redirect_uri` is one of its callback URLs,
  `response_type=code`, the scopes, PKCE's `code_challenge_method=S256`; with a hosted-UI session
  cookie it redirects back at once with a code, otherwise to `/login`.
- `GET|POST /login`: the sign-in form (CSRF-protected as Cognito's is); on success a session cookie
  (`cognito`, HttpOnly) and a redirect to `redirect_uri?code=…&state=…`.
- `POST /oauth2/token`: `authorization_code` (one use, 5 minutes, same client and redirect URI, the
  verifier's SHA-256 must match the challenge) and `refresh_token` grants; errors are
  `400 {"error": "invalid_grant" | …}`. It answers cross-origin calls as Cognito's does (the Origin is
  echoed), which is what lets a browser app on another origin exchange its code.
- `POST /oauth2/revoke`: revokes a refresh token (for this endpoint; the emulator has no RevokeToken).
- `GET /logout?client_id=…&logout_uri=…`: ends the hosted-UI session and redirects to a registered
  sign-out URL, so the next sign-in asks for the password again.

References: https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html,
token-endpoint.html, logout-endpoint.html, revocation-endpoint.html and using-pkce-in-authorization-code.html
in the same guide.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

CODE_SECONDS = 300  # Cognito's authorization codes are valid for five minutes
SESSION_SECONDS = 3600  # the hosted UI's own session cookie lasts an hour
SESSION_COOKIE = "cognito"
CSRF_COOKIE = "XSRF-TOKEN"
PATHS = frozenset({"/oauth2/authorize", "/oauth2/token", "/oauth2/revoke", "/login", "/logout"})
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    cookies: list[str] = field(default_factory=list)


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str | None
    tokens: dict[str, Any]
    expires: float


@dataclass
class _Session:
    username: str
    client_id: str
    refresh_token: str
    expires: float


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def s256(verifier: str) -> str:
    """PKCE's S256: base64url(SHA-256(verifier)) without padding (RFC 7636, section 4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class HostedUi:
    def __init__(self, idp: Any, user_pool_id: str, clock: Callable[[], float] = time.time) -> None:
        self._idp = idp
        self._pool = user_pool_id
        self._clock = clock
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}
        self._sessions: dict[str, _Session] = {}
        self._revoked: set[str] = set()

    # -- dispatch ---------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Reply:
        params = dict(parse_qsl(query, keep_blank_values=True))
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)) if method == "POST" else {}
        cookies = _cookies(headers.get("cookie", ""))
        origin = headers.get("origin")
        if path == "/oauth2/authorize" and method == "GET":
            return self._guard(lambda: self.authorize(params, cookies))
        if path == "/login" and method == "GET":
            return self._guard(lambda: self.login_page(params))
        if path == "/login" and method == "POST":
            return self._guard(lambda: self.login(form, cookies))
        if path == "/logout" and method == "GET":
            return self._guard(lambda: self.logout(params, cookies))
        if path in ("/oauth2/token", "/oauth2/revoke") and method == "OPTIONS":
            return _cors(Reply(204), origin, preflight=True)
        if path == "/oauth2/token" and method == "POST":
            return _cors(self._json_guard(lambda: self.token(form, headers)), origin)
        if path == "/oauth2/revoke" and method == "POST":
            return _cors(self._json_guard(lambda: self.revoke(form)), origin)
        return Reply(405, {"Allow": "GET" if path in ("/oauth2/authorize", "/logout") else "POST"})

    def _guard(self, step: Callable[[], Reply]) -> Reply:
        try:
            return step()
        except OAuthError as exc:
            return _page(exc.status, "Something is wrong with this sign-in link", f"{exc.error}: {exc.description}")

    def _json_guard(self, step: Callable[[], Reply]) -> Reply:
        try:
            return step()
        except OAuthError as exc:
            return _json(exc.status, {"error": exc.error, "error_description": exc.description})

    # -- the app client ----------------------------------------------------------------
    def _client(self, client_id: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        if not client_id:
            raise OAuthError("invalid_request", "client_id is required")
        try:
            client: dict[str, Any] = self._idp.describe_user_pool_client(UserPoolId=self._pool, ClientId=client_id)[
                "UserPoolClient"
            ]
        except ClientError as exc:
            raise OAuthError("invalid_client", "no such app client") from exc
        if not client.get("AllowedOAuthFlowsUserPoolClient") or "code" not in client.get("AllowedOAuthFlows", []):
            raise OAuthError("unauthorized_client", "this app client may not use the authorization-code grant")
        return client

    def _checked(self, params: dict[str, str]) -> dict[str, Any]:
        """The authorization request's parameters, checked against the app client."""
        client = self._client(params.get("client_id", ""))
        if params.get("redirect_uri") not in client.get("CallbackURLs", []):
            raise OAuthError("redirect_mismatch", "redirect_uri is not one of the app client's callback URLs")
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "response_type must be code")
        scopes = params.get("scope", "").split()
        if any(s not in client.get("AllowedOAuthScopes", []) for s in scopes):
            raise OAuthError("invalid_scope", "a requested scope is not allowed for this app client")
        if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
            raise OAuthError("invalid_request", "code_challenge_method must be S256")
        return client

    # -- sign-in -----------------------------------------------------------------------
    def authorize(self, params: dict[str, str], cookies: dict[str, str]) -> Reply:
        self._checked(params)
        session = self._session(cookies)
        if session is not None and session.client_id == params["client_id"]:
            with contextlib.suppress(OAuthError):  # a session whose refresh token died asks for the password
                tokens = self._refresh(params["client_id"], session.refresh_token)
                return self._redirect_with_code(params, {**tokens, "refresh_token": session.refresh_token})
        return Reply(302, {"Location": "/login?" + urlencode(params)})

    def login_page(self, params: dict[str, str], error: str = "", username: str = "") -> Reply:
        self._checked(params)
        csrf = secrets.token_urlsafe(24)
        reply = _page(200, "Sign in", error, _form(params, csrf, username))
        reply.cookies.append(f"{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Lax")
        return reply

    def login(self, form: dict[str, str], cookies: dict[str, str]) -> Reply:
        from botocore.exceptions import ClientError

        params = {k: v for k, v in form.items() if k not in ("username", "password", "_csrf")}
        self._checked(params)
        if not form.get("_csrf") or not secrets.compare_digest(form.get("_csrf", ""), cookies.get(CSRF_COOKIE, "")):
            raise OAuthError("invalid_request", "the sign-in form expired; open the app and sign in again", 403)
        username, password = form.get("username", "").strip(), form.get("password", "")
        if not username or not password:
            return self.login_page(params, "Enter your username and password.", username)
        try:
            result = self._idp.initiate_auth(
                ClientId=params["client_id"],
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = {
                "NotAuthorizedException": "Incorrect username or password.",
                "UserNotFoundException": "Incorrect username or password.",
                "PasswordResetRequiredException": "Password reset required for the user.",
                "UserNotConfirmedException": "User is not confirmed.",
            }.get(code, "Sign-in failed; try again.")
            return self.login_page(params, message, username)
        if "AuthenticationResult" not in result:
            step = result.get("ChallengeName", "another step")
            return self.login_page(params, f"This account needs {step}, which the local sign-in page cannot do.")
        tokens = _tokens(result["AuthenticationResult"])
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[sid] = _Session(
                username, params["client_id"], tokens["refresh_token"], self._clock() + SESSION_SECONDS
            )
        reply = self._redirect_with_code(params, tokens)
        reply.cookies.append(f"{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_SECONDS}")
        reply.cookies.append(f"{CSRF_COOKIE}=; Path=/; Max-Age=0")
        return reply

    def _redirect_with_code(self, params: dict[str, str], tokens: dict[str, Any]) -> Reply:
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[code] = _Grant(
                params["client_id"],
                params["redirect_uri"],
                params.get("code_challenge") or None,
                tokens,
                self._clock() + CODE_SECONDS,
            )
        answer = {"code": code}
        if "state" in params:
            answer["state"] = params["state"]
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return Reply(302, {"Location": params["redirect_uri"] + separator + urlencode(answer)})

    def _session(self, cookies: dict[str, str]) -> _Session | None:
        sid = cookies.get(SESSION_COOKIE, "")
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None and session.expires < self._clock():
                del self._sessions[sid]
                return None
        return session

    # -- tokens ------------------------------------------------------------------------
    def token(self, form: dict[str, str], headers: dict[str, str]) -> Reply:
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
        grant = form.get("grant_type")
        client_id = form.get("client_id", "")
        self._client(client_id)
        if grant == "authorization_code":
            return _json(200, self._redeem(form, client_id), no_store=True)
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            if not token or token in self._revoked:
                raise OAuthError("invalid_grant", "the refresh token is not valid")
            return _json(200, self._refresh(client_id, token), no_store=True)
        raise OAuthError("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")

    def _redeem(self, form: dict[str, str], client_id: str) -> dict[str, Any]:
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # a code is good for one redemption only
        if grant is None or grant.expires < self._clock():
            raise OAuthError("invalid_grant", "the authorization code is unknown, used or expired")
        if grant.client_id != client_id or grant.redirect_uri != form.get("redirect_uri"):
            raise OAuthError("invalid_grant", "client_id or redirect_uri differ from the authorization request")
        verifier = form.get("code_verifier", "")
        if grant.challenge is not None and not (verifier and secrets.compare_digest(s256(verifier), grant.challenge)):
            raise OAuthError("invalid_grant", "the code_verifier does not match the code_challenge")
        return grant.tokens

    def _refresh(self, client_id: str, refresh_token: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            result = self._idp.initiate_auth(
                ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh_token}
            )
        except ClientError as exc:
            raise OAuthError("invalid_grant", "the refresh token is not valid") from exc
        tokens = _tokens(result["AuthenticationResult"])
        tokens.pop("refresh_token", None)  # a refresh grant returns no new refresh token
        return tokens

    def revoke(self, form: dict[str, str]) -> Reply:
        self._client(form.get("client_id", ""))
        token = form.get("token", "")
        if not token:
            raise OAuthError("invalid_request", "token is required")
        with self._lock:
            self._revoked.add(token)
        return Reply(200, {"Content-Length": "0"})

    # -- sign-out ----------------------------------------------------------------------
    def logout(self, params: dict[str, str], cookies: dict[str, str]) -> Reply:
        client = self._client(params.get("client_id", ""))
        target = params.get("logout_uri", "")
        if target not in client.get("LogoutURLs", []):
            raise OAuthError("invalid_request", "logout_uri is not one of the app client's sign-out URLs")
        with self._lock:
            session = self._sessions.pop(cookies.get(SESSION_COOKIE, ""), None)
            if session is not None:
                self._revoked.add(session.refresh_token)
        reply = Reply(302, {"Location": target})
        reply.cookies.append(f"{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
        return reply


def _tokens(result: dict[str, Any]) -> dict[str, Any]:
    tokens = {
        "id_token": result["IdToken"],
        "access_token": result["AccessToken"],
        "expires_in": int(result.get("ExpiresIn", 3600)),
        "token_type": "Bearer",
    }
    if result.get("RefreshToken"):
        tokens["refresh_token"] = result["RefreshToken"]
    return tokens


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is as good as none
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _cors(reply: Reply, origin: str | None, preflight: bool = False) -> Reply:
    if origin:
        reply.headers["Access-Control-Allow-Origin"] = origin
        reply.headers["Vary"] = "Origin"
        if preflight:
            reply.headers["Access-Control-Allow-Methods"] = "POST"
            reply.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
            reply.headers["Access-Control-Max-Age"] = "600"
    return reply


def _json(status: int, data: dict[str, Any], no_store: bool = False) -> Reply:
    headers = {"Content-Type": "application/json;charset=UTF-8"}
    if no_store:
        headers.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
    return Reply(status, headers, json.dumps(data).encode())


_STYLE = (
    "body{margin:0;min-height:100vh;display:grid;place-items:center;background:#eef1f5;"
    "font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2330}"
    "main{box-sizing:border-box;background:#fff;border:1px solid #d8dce3;border-radius:10px;padding:1.5rem;"
    "width:min(24rem,calc(100vw - 2rem))}"
    "h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;font-weight:600;margin:.75rem 0 .25rem}"
    "input{box-sizing:border-box;width:100%;padding:.55rem .6rem;font:inherit;border:1px solid #b8bfcc;"
    "border-radius:6px}button{margin-top:1.25rem;width:100%;padding:.6rem;font:inherit;font-weight:600;"
    "color:#fff;background:#2457c5;border:0;border-radius:6px;cursor:pointer}"
    ".error{color:#a4161a;background:#fdecec;border-radius:6px;padding:.5rem .75rem}"
    ".note{color:#5b6474;font-size:.85rem;margin-top:1rem}"
)


def _page(status: int, title: str, error: str = "", body: str = "") -> Reply:
    alert = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    text = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · docpipe</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{html.escape(title)}</h1>{alert}{body}"
        '<p class="note">docpipe local stack: this page stands in for the Cognito hosted UI.</p>'
        "</main></body></html>"
    )
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": PAGE_CSP,
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }
    return Reply(status, headers, text.encode())


def _form(params: dict[str, str], csrf: str, username: str) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in sorted(params.items())
    )
    return (
        f'<form method="post" action="/login">{hidden}<input type="hidden" name="_csrf" value="{html.escape(csrf)}">'
        '<label for="signInFormUsername">Username</label>'
        f'<input id="signInFormUsername" name="username" autocomplete="username" autocapitalize="none" '
        f'required value="{html.escape(username)}"{"" if username else " autofocus"}>'
        '<label for="signInFormPassword">Password</label>'
        f'<input id="signInFormPassword" name="password" type="password" autocomplete="current-password" required'
        f"{' autofocus' if username else ''}>"
        '<button type="submit" name="signInSubmitButton">Sign in</button></form>'
    )
