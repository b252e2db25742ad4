"""The local hosted UI's pieces that need no emulator."""

from __future__ import annotations

from local.hosted_ui import HostedUi, s256


def test_s256_matches_the_example_of_rfc_7636() -> None:
    # RFC 7636, appendix B
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_an_expired_authorization_code_is_refused() -> None:
    now = [1000.0]
    ui = HostedUi(idp=None, user_pool_id="pool", clock=lambda: now[0])
    ui._client = lambda client_id: {}  # type: ignore[method-assign]
    reply = ui._redirect_with_code({"client_id": "c", "redirect_uri": "https://app/"}, {"id_token": "t"})
    code = reply.headers["Location"].split("code=")[1]
    now[0] += 301
    form = {"grant_type": "authorization_code", "client_id": "c", "code": code, "redirect_uri": "https://app/"}
    answer = ui.handle("POST", "/oauth2/token", "", {"content-type": "application/x-www-form-urlencoded"}, b"")
    assert answer.status == 400
    from urllib.parse import urlencode

    body = urlencode(form).encode()
    answer = ui.handle("POST", "/oauth2/token", "", {"content-type": "application/x-www-form-urlencoded"}, body)
    assert answer.status == 400 and b"invalid_grant" in answer.body
