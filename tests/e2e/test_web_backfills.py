"""The web app's Backfills page in a real browser: an administrator starts a backfill and follows it to the end."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.provision import DEFAULT_ADMIN_PASSWORD
from tests.e2e.web_support import LAPTOP, WebStack, chromium, sign_in, web_stack

pytestmark = pytest.mark.e2e

sync_api = pytest.importorskip("playwright.sync_api", reason="the Python Playwright package is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(sync_api) as launched:
        yield launched


@pytest.fixture(scope="module")
def web(browser: Any) -> Iterator[WebStack]:
    with web_stack() as stack:
        yield stack


def signed_in(browser: Any, web: WebStack, username: str, password: str) -> Any:
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    sign_in(page, web, username, password)
    return page


def test_an_administrator_backfills_a_prefix_and_sees_it_succeed(browser: Any, web: WebStack) -> None:
    s3 = web.s3()
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    prefix = f"uploads/web-{uuid.uuid4().hex[:8]}/"
    saved = s3.get_bucket_notification_configuration(Bucket=bucket)
    saved.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        for i in range(3):
            s3.put_object(Bucket=bucket, Key=f"{prefix}note-{i}.txt", Body=b"note %d\n" % i)
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=saved)

    page = signed_in(browser, web, "admin", DEFAULT_ADMIN_PASSWORD)
    page.click("a[data-nav=backfills]")
    page.fill("#bf-prefix", prefix)
    page.click("form.backfill-form button[type=submit]")
    row = page.locator("tr[data-run]").first
    page.wait_for_selector("tr[data-run][data-status=SUCCEEDED]", timeout=120_000)
    assert "processed 3" in row.inner_text() and "listed 3" in row.inner_text()
    assert prefix in row.inner_text()
    assert page.errors == []


def test_the_page_is_not_offered_to_other_users(browser: Any, web: WebStack) -> None:
    page = signed_in(browser, web, "demo", web.demo_password)
    assert page.locator("a[data-nav=backfills]").is_hidden()
    page.goto(web.api + "/#/backfills")
    page.wait_for_selector("text=Only administrators run backfills.")
    assert page.errors == []
