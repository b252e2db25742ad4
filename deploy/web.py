"""The web app's run-time configuration and security headers, the same locally and on AWS.

`web/` is static files. What differs between stacks comes from two places,
both built here so the local gateway and the AWS deployment cannot drift:

- `config.json`, served beside `index.html`: the API's base URL and the
  Cognito settings the hosted-UI sign-in needs (the user pool's domain, the
  app client, the redirect and sign-out URLs). The app reads it before
  anything else; nobody edits `index.html`.
- the security headers, above all the Content-Security-Policy: on AWS a
  CloudFront response headers policy adds them to every response (the
  template's `WebSecurityHeaders` carries `security_headers()` for its
  origins, and a test keeps the two equal); locally the gateway adds them.
"""

from __future__ import annotations

from typing import Any

SCOPES = ("openid", "email", "profile")


def web_config(
    *,
    api: str,
    region: str,
    user_pool_id: str,
    client_id: str,
    auth_domain: str,
    app_origin: str,
) -> dict[str, Any]:
    """The content of `config.json`. `api` is the API's base URL ("" means the app's own origin);
    `auth_domain` the user pool domain's origin; `app_origin` where the app is served (its callback
    and sign-out URL is that origin followed by "/", registered so on the app client)."""
    home = app_origin.rstrip("/") + "/"
    return {
        "api": api.rstrip("/"),
        "region": region,
        "user_pool_id": user_pool_id,
        "client_id": client_id,
        "auth_domain": auth_domain.rstrip("/"),
        "redirect_uri": home,
        "logout_uri": home,
        "scopes": list(SCOPES),
    }


def content_security_policy(connect: list[str]) -> str:
    """The app's policy: its own scripts and styles only, images from itself and `data:` (thumbnails
    in previews), network access to its own origin and `connect` (the API, the user pool domain, the
    uploads bucket), no frames, no plugins, no forms."""
    sources = " ".join(["'self'", *dict.fromkeys(c.rstrip("/") for c in connect if c)])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {sources}",
            "frame-src 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(connect: list[str], https: bool = True) -> dict[str, str]:
    """Every response's security headers (HSTS only where the site is served over HTTPS)."""
    headers = {
        "Content-Security-Policy": content_security_policy(connect),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers
