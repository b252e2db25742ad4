"""Cognito login for the CLI, over plain HTTPS (the user-pool API needs no AWS credentials).

Tokens are cached per API URL in ~/.cache/docpipe/tokens.json (mode 0600) and
refreshed with the refresh token when the id token is about to expire.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import requests


def cache_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "docpipe" / "tokens.json"


class LoginFailed(RuntimeError):
    pass


def _cognito(config: dict[str, Any], target: str, payload: dict[str, Any]) -> dict[str, Any]:
    endpoint = config.get("cognito_endpoint") or f"https://cognito-idp.{config['region']}.amazonaws.com/"
    resp = requests.post(
        endpoint.rstrip("/") + "/",
        data=json.dumps(payload),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{target}",
        },
        timeout=15,
    )
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
        raise LoginFailed(f"Cognito asked for a challenge this client does not handle: {data.get('ChallengeName')}")
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


def _tokens(result: dict[str, Any]) -> dict[str, Any]:
    out = {"id_token": result["IdToken"], "expires_at": time.time() + int(result.get("ExpiresIn", 3600))}
    if result.get("RefreshToken"):
        out["refresh_token"] = result["RefreshToken"]
    return out


def load_cached(api: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(cache_path().read_text()).get(api)
        return data
    except (OSError, ValueError, AttributeError):
        return None


def save_cached(api: str, tokens: dict[str, Any]) -> None:
    path = cache_path()
    try:
        existing = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        existing = {}
    existing[api] = tokens
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(existing, handle)


def id_token(api: str, config: dict[str, Any], username: str | None, password: str | None) -> str:
    """A valid id token: cached, refreshed, or from a fresh login."""
    cached = load_cached(api)
    if cached and cached.get("expires_at", 0) > time.time() + 60:
        return str(cached["id_token"])
    if cached and cached.get("refresh_token") and not username:
        try:
            tokens = refresh(config, cached["refresh_token"])
            save_cached(api, tokens)
            return str(tokens["id_token"])
        except (LoginFailed, KeyError):
            pass
    if not username or not password:
        raise LoginFailed("Not logged in: pass --user (and --password or DOCPIPE_PASSWORD)")
    tokens = login(config, username, password)
    save_cached(api, tokens)
    return str(tokens["id_token"])
