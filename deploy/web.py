"""The web app's run-time configuration and security headers, the same locally and on AWS; publishing it.

    python -m deploy.web --stage prod --stack docpipe-prod-infra [--api URL]

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

import argparse
import json
import mimetypes
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCOPES = ("openid", "email", "profile")
WEB_ROOT = Path(__file__).resolve().parent.parent / "web"


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


# --- hosting on AWS: what the template's response headers policy carries, and publishing web/ ---------------


def hosted_connect_sources(region: str, stage: str, account: str, domain_prefix: str) -> list[str]:
    """connect-src of the hosted app: API Gateway's hostnames in the region, the hosted UI, the uploads bucket
    (both spellings of its virtual-hosted endpoint, as boto3 may presign either)."""
    bucket = f"docpipe-{stage}-{account}-{region}"
    return [
        f"https://*.execute-api.{region}.amazonaws.com",
        f"https://{domain_prefix}.auth.{region}.amazoncognito.com",
        f"https://{bucket}.s3.amazonaws.com",
        f"https://{bucket}.s3.{region}.amazonaws.com",
    ]


CACHE_CONTROL = "public, max-age=0, must-revalidate, s-maxage=31536000"
"""Browsers revalidate every file (an ETag makes that a 304); CloudFront keeps them until a publish invalidates."""


def site_files(root: Path = WEB_ROOT) -> list[tuple[str, Path]]:
    """(key, path) for every file of the app, in a stable order; dotfiles stay home."""
    return sorted(
        (path.relative_to(root).as_posix(), path)
        for path in root.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def content_type(key: str) -> str:
    kind = mimetypes.guess_type(key)[0] or "application/octet-stream"
    if key.endswith(".js"):
        kind = "text/javascript"  # the registered type for ES modules (RFC 9239), whatever the host's mime table
    return f"{kind}; charset=utf-8" if kind.startswith("text/") or kind == "application/json" else kind


@dataclass
class Published:
    uploaded: list[str]
    removed: list[str]
    invalidation: str
    config: dict[str, Any]


def publish(s3: Any, cloudfront: Any, outputs: dict[str, str], api: str, root: Path = WEB_ROOT) -> Published:
    """Upload the app and its config.json to the stack's web bucket, remove files no longer in the app,
    and invalidate the distribution so the next request sees the new version."""
    config = web_config(
        api=api,
        region=outputs["Region"],
        user_pool_id=outputs["UserPoolId"],
        client_id=outputs["UserPoolClientId"],
        auth_domain=f"https://{outputs['HostedUiDomain']}",
        app_origin=outputs["WebUrl"],
    )
    bucket = outputs["WebBucketName"]
    uploaded: list[str] = []
    for key, path in site_files(root):
        if key == "config.json":
            continue  # never a stale local one: this stack's is generated below
        s3.put_object(
            Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type(key), CacheControl=CACHE_CONTROL
        )
        uploaded.append(key)
    body = json.dumps(config, indent=2).encode()
    s3.put_object(
        Bucket=bucket, Key="config.json", Body=body, ContentType=content_type("config.json"), CacheControl=CACHE_CONTROL
    )
    uploaded.append("config.json")
    keep = set(uploaded)
    removed = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
        if o["Key"] not in keep
    ]
    for start in range(0, len(removed), 1000):
        chunk = [{"Key": k} for k in removed[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
    invalidation = cloudfront.create_invalidation(
        DistributionId=outputs["WebDistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"docpipe-{time.time_ns()}"},
    )["Invalidation"]["Id"]
    return Published(uploaded, removed, str(invalidation), config)


def api_url(stage: str, cloudformation: Any, project: Path = WEB_ROOT.parent) -> str:
    """The deployed API's base URL: the packaged template's stack output (EndpointURL), else the record
    `chalice deploy` keeps in .chalice/deployed/<stage>.json."""
    from botocore.exceptions import ClientError

    try:
        desc = cloudformation.describe_stacks(StackName=f"docpipe-{stage}")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in desc["Stacks"][0].get("Outputs", [])}
        if outputs.get("EndpointURL"):
            return str(outputs["EndpointURL"]).rstrip("/")
    except ClientError:
        pass  # no app stack: deployed with chalice deploy
    record = project / ".chalice" / "deployed" / f"{stage}.json"
    if record.is_file():
        for resource in json.loads(record.read_text(encoding="utf-8")).get("resources", []):
            if resource.get("resource_type") == "rest_api":
                return str(resource["rest_api_url"]).rstrip("/")
    raise LookupError(f"no deployed API for stage {stage!r}: deploy the app first, or pass --api URL")


def main(argv: list[str] | None = None) -> int:
    import boto3

    from deploy.configure import add_stage_arguments, load_outputs

    parser = argparse.ArgumentParser(prog="python -m deploy.web", description="Publish the web app to a stage.")
    add_stage_arguments(parser)
    parser.add_argument("--api", help="the API's base URL (default: the stage's deployed API)")
    parser.add_argument("--project", type=Path, default=WEB_ROOT.parent, help="where .chalice/deployed/ is")
    args = parser.parse_args(argv)
    outputs = load_outputs(args.stage, args.outputs, args.stack, args.region)
    try:
        api = args.api or api_url(args.stage, boto3.client("cloudformation", region_name=args.region), args.project)
    except LookupError as exc:
        print(f"cannot publish the web app: {exc}", file=sys.stderr)
        return 2
    done = publish(boto3.client("s3", region_name=args.region), boto3.client("cloudfront"), outputs, api)
    print(f"published {len(done.uploaded)} files to s3://{outputs['WebBucketName']} (removed {len(done.removed)})")
    print(f"invalidation {done.invalidation}; the app: {outputs['WebUrl']}/  (API {api})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
