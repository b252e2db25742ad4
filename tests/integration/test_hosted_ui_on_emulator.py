"""The local stand-in for Cognito's hosted UI: the authorization-code grant with PKCE, against the emulator's pool.

The web app signs in through these endpoints locally and through the user pool's domain on AWS; these
tests hold the local endpoints to the behaviour the app relies on (and Cognito documents).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

pytestmark = pytest.mark.emulator

REDIRECT = "http://127.0.0.1:8000/"  # registered on the local app client (StackNames' default origin)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(stack: Any, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": stack.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid email profile",
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return {**params, **extra}


def sign_in(api: str, stack: Any, browser: requests.Session, challenge: str, password: str | None = None) -> Any:
    """Follow authorize -> login form -> submit, as a browser would; returns the final redirect."""
    first = browser.get(f"{api}/oauth2/authorize", params=authorize_params(stack, challenge), allow_redirects=False)
    assert first.status_code == 302 and first.headers["Location"].startswith("/login?")
    form = browser.get(api + first.headers["Location"])
    assert form.status_code == 200 and "Content-Security-Policy" in form.headers
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.text))
    fields.update({"username": "demo", "password": password or stack.names.demo_password})
    return browser.post(f"{api}/login", data=fields, allow_redirects=False)


def exchange(api: str, stack: Any, code: str, verifier: str, redirect: str = REDIRECT) -> requests.Response:
    body = {
        "grant_type": "authorization_code",
        "client_id": stack.client_id,
        "code": code,
        "redirect_uri": redirect,
        "code_verifier": verifier,
    }
    return requests.post(f"{api}/oauth2/token", data=body, headers={"Origin": "https://app.example"}, timeout=5)


def code_of(response: Any) -> str:
    assert response.status_code == 302, response.text
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    query = parse_qs(target.query)
    assert query["state"] == ["st-123"]
    return query["code"][0]


def test_a_user_signs_in_with_the_code_grant_and_pkce_and_the_api_accepts_the_id_token(api: str, stack: Any) -> None:
    verifier, challenge = pkce()
    browser = requests.Session()
    code = code_of(sign_in(api, stack, browser, challenge))
    assert "cognito" in browser.cookies
    answer = exchange(api, stack, code, verifier)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert set(tokens) == {"id_token", "access_token", "refresh_token", "expires_in", "token_type"}
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example"  # Cognito answers the browser
    listed = requests.get(f"{api}/documents", headers={"Authorization": tokens["id_token"]}, timeout=5)
    assert listed.status_code == 200

    again = exchange(api, stack, code, verifier)  # a code is good once
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_wrong_password_shows_the_form_again_and_issues_no_code(api: str, stack: Any) -> None:
    _, challenge = pkce()
    answer = sign_in(api, stack, requests.Session(), challenge, password="Wrong-password-1")
    assert answer.status_code == 200 and "Incorrect username or password." in answer.text
    assert "Location" not in answer.headers


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "not-the-verifier-at-all-not-the-verifier-at-all"}, "invalid_grant"),
        ({"redirect_uri": "http://localhost:8000/"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"client_id": "no-such-client"}, "invalid_client"),
    ],
)
def test_a_code_is_refused_with_the_wrong_verifier_redirect_grant_or_client(
    api: str, stack: Any, change: dict[str, str], error: str
) -> None:
    verifier, challenge = pkce()
    code = code_of(sign_in(api, stack, requests.Session(), challenge))
    body = {
        "grant_type": "authorization_code",
        "client_id": stack.client_id,
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **change,
    }
    answer = requests.post(f"{api}/oauth2/token", data=body, timeout=5)
    assert answer.status_code == 400 and answer.json()["error"] == error


@pytest.mark.parametrize(
    "change",
    [
        {"redirect_uri": "https://attacker.example/"},
        {"code_challenge_method": "plain"},
        {"response_type": "token"},
        {"scope": "openid aws.cognito.signin.user.admin"},
    ],
)
def test_an_authorization_request_outside_the_app_clients_settings_redirects_nowhere(
    api: str, stack: Any, change: dict[str, str]
) -> None:
    _, challenge = pkce()
    answer = requests.get(
        f"{api}/oauth2/authorize", params=authorize_params(stack, challenge, **change), allow_redirects=False, timeout=5
    )
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_a_login_form_post_without_its_csrf_token_is_refused(api: str, stack: Any) -> None:
    _, challenge = pkce()
    fields = {**authorize_params(stack, challenge), "username": "demo", "password": stack.names.demo_password}
    answer = requests.post(f"{api}/login", data=fields, allow_redirects=False, timeout=5)
    assert answer.status_code == 403 and "Location" not in answer.headers


def test_the_hosted_ui_session_signs_in_again_without_a_password_until_logout(api: str, stack: Any) -> None:
    verifier, challenge = pkce()
    browser = requests.Session()
    first = exchange(api, stack, code_of(sign_in(api, stack, browser, challenge)), verifier).json()
    verifier2, challenge2 = pkce()
    silent = browser.get(f"{api}/oauth2/authorize", params=authorize_params(stack, challenge2), allow_redirects=False)
    second = exchange(api, stack, code_of(silent), verifier2)
    assert second.status_code == 200 and second.json()["id_token"]

    logout_params = {"client_id": stack.client_id, "logout_uri": REDIRECT}
    out = browser.get(f"{api}/logout", params=logout_params, allow_redirects=False)
    assert out.status_code == 302 and out.headers["Location"] == REDIRECT
    assert "cognito" not in browser.cookies
    _, challenge3 = pkce()
    asked = browser.get(f"{api}/oauth2/authorize", params=authorize_params(stack, challenge3), allow_redirects=False)
    assert asked.headers["Location"].startswith("/login?")
    refresh = {"grant_type": "refresh_token", "client_id": stack.client_id, "refresh_token": first["refresh_token"]}
    assert requests.post(f"{api}/oauth2/token", data=refresh, timeout=5).json()["error"] == "invalid_grant"

    elsewhere = browser.get(
        f"{api}/logout", params={**logout_params, "logout_uri": "https://attacker.example/"}, allow_redirects=False
    )
    assert elsewhere.status_code == 400 and "Location" not in elsewhere.headers


def test_a_refresh_token_renews_the_id_token_until_it_is_revoked(api: str, stack: Any) -> None:
    verifier, challenge = pkce()
    tokens = exchange(api, stack, code_of(sign_in(api, stack, requests.Session(), challenge)), verifier).json()
    refresh = {"grant_type": "refresh_token", "client_id": stack.client_id, "refresh_token": tokens["refresh_token"]}
    renewed = requests.post(f"{api}/oauth2/token", data=refresh, timeout=5)
    assert renewed.status_code == 200 and "refresh_token" not in renewed.json() and renewed.json()["id_token"]
    revoke = {"token": tokens["refresh_token"], "client_id": stack.client_id}
    assert requests.post(f"{api}/oauth2/revoke", data=revoke, timeout=5).status_code == 200
    assert requests.post(f"{api}/oauth2/token", data=refresh, timeout=5).json()["error"] == "invalid_grant"


def test_the_web_apps_config_names_the_hosted_ui_and_its_pages_carry_the_security_headers(api: str, stack: Any) -> None:
    config = requests.get(f"{api}/config.json", timeout=5).json()
    assert config["client_id"] == stack.client_id and config["auth_domain"] == api
    assert config["redirect_uri"] == config["logout_uri"] == f"{api}/" and config["api"] == ""
    page = requests.get(f"{api}/", timeout=5)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and stack.endpoint in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Referrer-Policy"] == "no-referrer"
