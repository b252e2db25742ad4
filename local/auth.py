"""Cognito JWT verification, the way API Gateway's Cognito authorizer does it.

RS256 signature against the user pool's JWKS, `exp`, `iss`, `token_use` and
the app client (`aud` for id tokens). docpipe's routes accept **id tokens**
(API Gateway's Cognito authorizer without OAuth scopes does the same), so an
access token is refused. `alg: none` and HMAC tokens never verify: only RS256
is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt


class InvalidToken(Exception):
    """Any reason a token is refused; the message is for logs, not clients."""


@dataclass
class CognitoVerifier:
    jwks_url: str
    issuer: str
    client_ids: tuple[str, ...]
    leeway_seconds: int = 0

    def __post_init__(self) -> None:
        self._jwks = jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=3600, timeout=5)

    def verify(self, header_value: str | None) -> dict[str, Any]:
        token = _bearer(header_value)
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=list(self.client_ids),
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": ["exp", "iss", "sub", "aud", "token_use"]},
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            raise InvalidToken(f"{type(exc).__name__}: {exc}") from exc
        if claims.get("token_use") != "id":
            raise InvalidToken("only id tokens are accepted")
        return claims


def _bearer(header_value: str | None) -> str:
    if not header_value:
        raise InvalidToken("no Authorization header")
    value = header_value.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    if value.count(".") != 2:
        raise InvalidToken("not a JWT")
    return value


def gateway_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway's authorizer passes them: every value a string; an array of one as that
    value, a longer one as "[a b]" (see `chalicelib.api.http.groups_from_claim`)."""
    out = {}
    for name, value in claims.items():
        if isinstance(value, (list, tuple)):
            out[name] = str(value[0]) if len(value) == 1 else "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            out[name] = str(value).lower()
        else:
            out[name] = str(value)
    return out
