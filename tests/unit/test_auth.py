"""The local gateway's Cognito verification refuses every token API Gateway would."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from local.auth import CognitoVerifier, InvalidToken, gateway_claims

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test"
CLIENT = "client-123"


def _key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY = _key()
OTHER_KEY = _key()


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


@pytest.fixture
def verifier(jwks_url: str) -> CognitoVerifier:
    return CognitoVerifier(jwks_url, ISSUER, (CLIENT,))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "user-1",
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "cognito:username": "demo",
        "cognito:groups": ["admins"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(key: Any = KEY, kid: str = "k1", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers={"kid": kid})


def test_a_valid_id_token_yields_its_claims(verifier: CognitoVerifier) -> None:
    assert verifier.verify(token())["sub"] == "user-1"


def test_a_bearer_prefix_is_accepted(verifier: CognitoVerifier) -> None:
    assert verifier.verify("Bearer " + token())["cognito:username"] == "demo"


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", "a.b.c", "Bearer ", "x" * 5000],
    ids=["missing", "empty", "not-a-jwt", "three-garbage-parts", "empty-bearer", "huge"],
)
def test_a_malformed_header_is_refused(verifier: CognitoVerifier, header: str | None) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(header)


def test_a_token_signed_by_another_key_is_refused(verifier: CognitoVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token(key=OTHER_KEY))


def test_an_unsigned_alg_none_token_is_refused(verifier: CognitoVerifier) -> None:
    forged = jwt.encode(claims(), "", algorithm="none", headers={"kid": "k1"})
    with pytest.raises(InvalidToken):
        verifier.verify(forged)


def test_an_hmac_token_keyed_with_the_public_key_is_refused(verifier: CognitoVerifier) -> None:
    import base64

    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "k1"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    forged = f"{header.decode()}.{payload.decode()}.c2lnbmF0dXJl"
    with pytest.raises(InvalidToken):
        verifier.verify(forged)


def test_an_expired_token_is_refused(verifier: CognitoVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token(exp=int(time.time()) - 5))


def test_a_token_from_another_issuer_is_refused(verifier: CognitoVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token(iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"))


def test_a_token_for_another_client_is_refused(verifier: CognitoVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token(aud="someone-else"))


def test_an_access_token_is_refused_where_an_id_token_is_expected(verifier: CognitoVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token(token_use="access"))


def test_a_token_without_expiry_is_refused(verifier: CognitoVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token(exp=None))


def test_a_token_with_an_unknown_key_id_is_refused(verifier: CognitoVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token(kid="unknown"))


def test_claims_reach_the_app_as_strings_like_api_gateway_passes_them() -> None:
    out = gateway_claims({"sub": "u", "cognito:groups": ["admins", "staff"], "exp": 5, "email_verified": True})
    assert out == {"sub": "u", "cognito:groups": "[admins staff]", "exp": "5", "email_verified": "true"}
