"""Cognito sign-in for the CLI, over plain HTTPS (the user-pool API needs no AWS credentials).

Tokens are cached in ~/.cache/docpipe/tokens.json (mode 0600), one entry per
API URL + user pool + user name, so that `--user admin` never reuses demo's
tokens and a stack whose pool changed never gets a stale token. The cache also
remembers, per API and pool, who signed in last (used when `--user` is not
given), and which API was used last (used when `--api` and DOCPIPE_API are not
given). An id token about to expire is renewed with the refresh token; a token
the API refuses (401) is dropped and the user signs in again.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import requests

FORMAT = 2
EARLY_SECONDS = 60


class LoginFailed(RuntimeError):
    pass


def cache_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "docpipe" / "tokens.json"


def claims(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (the API verifies): for names and expiry only."""
    try:
        part = token.split(".")[1]
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError) as exc:
        raise LoginFailed("the cached token is malformed") from exc
    return data


def _cognito(config: dict[str, Any], target: str, payload: dict[str, Any]) -> dict[str, Any]:
    endpoint = config.get("cognito_endpoint") or f"https://cognito-idp.{config['region']}.amazonaws.com/"
    try:
        resp = requests.post(
            endpoint.rstrip("/") + "/",
            data=json.dumps(payload),
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"AWSCognitoIdentityProviderService.{target}",
            },
            timeout=15,
        )
    except requests.RequestException as exc:
        raise LoginFailed(f"the sign-in service at {endpoint} cannot be reached: {exc}") from exc
    data: dict[str, Any] = resp.json() if resp.content else {}
    if resp.status_code != 200:
        raise LoginFailed(data.get("message") or data.get("__type") or f"HTTP {resp.status_code}")
    return data


def login(config: dict[str, Any], username: str, password: str) -> dict[str, Any]:
    data = _cognito(
        config,
        "InitiateAuth",
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": config["client_id"],
            "AuthParameters": {"USERNAME": username, "PASSWORD": password},
        },
    )
    if "AuthenticationResult" not in data:
        raise LoginFailed(f"Cognito asked for a step this client does not handle: {data.get('ChallengeName')}")
    return _tokens(data["AuthenticationResult"])


def refresh(config: dict[str, Any], refresh_token: str) -> dict[str, Any]:
    data = _cognito(
        config,
        "InitiateAuth",
        {
            "AuthFlow": "REFRESH_TOKEN_AUTH",
            "ClientId": config["client_id"],
            "AuthParameters": {"REFRESH_TOKEN": refresh_token},
        },
    )
    tokens = _tokens(data["AuthenticationResult"])
    tokens.setdefault("refresh_token", refresh_token)
    return tokens


def sign_out(config: dict[str, Any], access_token: str) -> None:
    """Revoke the user's tokens at Cognito (GlobalSignOut)."""
    _cognito(config, "GlobalSignOut", {"AccessToken": access_token})


def _tokens(result: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id_token": result["IdToken"],
        "access_token": result.get("AccessToken"),
        "expires_at": time.time() + int(result.get("ExpiresIn", 3600)),
    }
    if result.get("RefreshToken"):
        out["refresh_token"] = result["RefreshToken"]
    return out


class TokenCache:
    """The cache file: sessions keyed by API + pool + user, who signed in last, the last API used."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_path()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {"format": FORMAT, "sessions": {}, "last_user": {}}
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {"format": FORMAT, "sessions": {}, "last_user": {}}  # an older cache: sign in again
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_suffix(".tmp")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1)
        os.replace(staging, self.path)

    @staticmethod
    def key(api: str, pool: str, user: str) -> str:
        return f"{api.rstrip('/')}|{pool}|{user.lower()}"

    @staticmethod
    def _scope(api: str, pool: str) -> str:
        return f"{api.rstrip('/')}|{pool}"

    def get(self, api: str, pool: str, user: str) -> dict[str, Any] | None:
        entry = self._read()["sessions"].get(self.key(api, pool, user))
        return entry if isinstance(entry, dict) and entry.get("id_token") else None

    def put(self, api: str, pool: str, user: str, tokens: dict[str, Any]) -> None:
        data = self._read()
        data["sessions"][self.key(api, pool, user)] = tokens
        data.setdefault("last_user", {})[self._scope(api, pool)] = user.lower()
        data["last_api"] = api.rstrip("/")
        self._write(data)

    def drop(self, api: str, pool: str, user: str) -> dict[str, Any] | None:
        data = self._read()
        gone = data["sessions"].pop(self.key(api, pool, user), None)
        if data.get("last_user", {}).get(self._scope(api, pool)) == user.lower():
            del data["last_user"][self._scope(api, pool)]
        self._write(data)
        return gone if isinstance(gone, dict) else None

    def last_user(self, api: str, pool: str) -> str | None:
        user = self._read().get("last_user", {}).get(self._scope(api, pool))
        return user if isinstance(user, str) else None

    def last_api(self) -> str | None:
        api = self._read().get("last_api")
        return api if isinstance(api, str) and api else None


class Session:
    """Who the CLI acts as, against one API: cached tokens, renewed, or a fresh sign-in."""

    def __init__(
        self,
        api: str,
        config: dict[str, Any],
        user: str | None,
        password: str | None,
        ask_password: Any = None,
        cache: TokenCache | None = None,
    ) -> None:
        self.api = api.rstrip("/")
        self.config = config
        self.pool = str(config.get("user_pool_id") or "")
        self.cache = cache or TokenCache()
        self.user = (user or self.cache.last_user(self.api, self.pool) or "").lower() or None
        self._password = password
        self._ask = ask_password

    def id_token(self) -> str:
        """A valid id token: cached, renewed, or from a sign-in."""
        if self.user is None:
            raise LoginFailed(f"Not signed in to {self.api}: pass --user NAME (or run `docpipe --user NAME login`)")
        cached = self.cache.get(self.api, self.pool, self.user)
        if cached and cached.get("expires_at", 0) > time.time() + EARLY_SECONDS:
            return str(cached["id_token"])
        if cached and cached.get("refresh_token"):
            try:
                tokens = refresh(self.config, cached["refresh_token"])
                self.cache.put(self.api, self.pool, self.user, tokens)
                return str(tokens["id_token"])
            except (LoginFailed, KeyError):
                pass  # the refresh token expired or was revoked: sign in again
        return self.login()

    def login(self) -> str:
        if self.user is None:
            raise LoginFailed("pass --user NAME to sign in")
        password = self._password or (self._ask(self.user) if self._ask else None)
        if not password:
            raise LoginFailed(
                f"{self.user} must sign in to {self.api}: pass --password, set DOCPIPE_PASSWORD, or run this in a "
                "terminal to be asked"
            )
        tokens = login(self.config, self.user, password)
        self.cache.put(self.api, self.pool, self.user, tokens)
        return str(tokens["id_token"])

    def refused(self) -> str:
        """The API refused the token (401): forget it and sign in again."""
        if self.user is not None:
            self.cache.drop(self.api, self.pool, self.user)
        return self.login()

    def logout(self) -> bool:
        """Forget this user's tokens here and revoke them at Cognito; False when none were cached."""
        if self.user is None:
            return False
        gone = self.cache.drop(self.api, self.pool, self.user)
        if gone and gone.get("access_token"):
            with contextlib.suppress(LoginFailed):  # already expired or revoked: nothing left to revoke
                sign_out(self.config, str(gone["access_token"]))
        return gone is not None
