"""The web app in a real browser: Playwright drives Debian's chromium against `python -m local`.

A user signs in through the hosted UI (the authorization-code grant with
PKCE, served by the local gateway against the emulator's user pool), uploads
a PDF, an image, a CSV with a bad row and a Word document, follows them to
PROCESSED, finds them by search in any case, sorts the table, reads each one's
content inline (the PDF's text, the image's thumbnail, the CSV's first rows,
the document's text), reads the CSV's stored and rejected rows, exports them,
deletes two documents at once, and signs out at Cognito too. A file whose name
and PDF title are HTML shows them as text. Screenshots of every step, at
laptop (1280x800) and phone (390x844) sizes, go to artifacts/web/.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.web_support import ARTIFACTS, CHROMIUM_FLAGS, LAPTOP, PHONE, WebStack, chromium_path, sign_in, web_stack
from tests.support import samples

pytestmark = pytest.mark.e2e

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the Python Playwright package is not installed (pip install -r requirements-dev.txt)"
)

HOSTILE = "<img src=x onerror=window.__xss=1>"
PDF_NAME = f"{HOSTILE} report.pdf"
PDF_TITLE = f"Quarterly {HOSTILE} figures"
PDF_TEXT = ["Expedition log, day one.", "Wind from the north-west; three fossils found near the ridge."]
CSV_ROWS = 60
DOCX_TEXT = ["Project plan for the spring release.", "Milestone one: search. Milestone two: previews."]
SIZES = (LAPTOP, PHONE)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "chromium is not installed: apt-get install chromium (browsers cannot be downloaded by Playwright here)"
        )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def web(browser: Any) -> Iterator[WebStack]:
    for old in ARTIFACTS.glob("*.png"):  # only this run's screenshots
        old.unlink()
    with web_stack() as stack:
        stack.allow_web_origin_on_bucket()
        yield stack


def photo() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (800, 500), (30, 60, 120))
    draw = ImageDraw.Draw(image)
    for i in range(10):
        draw.ellipse((40 + i * 70, 100 + (i % 3) * 80, 120 + i * 70, 180 + (i % 3) * 80), fill=(240, 180 - i * 10, 90))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("web-files")
    made = {
        "pdf": (folder / PDF_NAME, samples.text_pdf(PDF_TEXT, title=PDF_TITLE, author="Grace Hopper")),
        "jpg": (folder / "Sunset over the Harbour.jpg", photo()),
        "docx": (folder / "plan.docx", samples.docx(DOCX_TEXT, title="Spring plan", author="Ada Lovelace")),
        "broken": (folder / "broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nnot a real pdf\n"),
    }
    note = "a note about item {} that is long enough to need room"
    rows = "".join(f"{i},item {i},{i * 1.25:.2f},{note.format(i)}\n" for i in range(1, CSV_ROWS + 1))
    ledger = ("id,item,amount,note\n" + rows + "61,a row with too few fields\n").encode()
    made["csv"] = (folder / "Ledger.csv", ledger)
    for path, body in made.values():
        path.write_bytes(body)
    return {key: path for key, (path, _) in made.items()}


def new_page(browser: Any, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors
    return page


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.evaluate("() => window.scrollTo(0, 0)")  # a sticky header would show mid-page otherwise
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)


def both_sizes(page: Any, name: str) -> None:
    """Screenshots at laptop and phone sizes; at the phone size nothing may be wider than the screen."""
    for viewport in SIZES:
        page.set_viewport_size(viewport)
        page.wait_for_timeout(200)
        shot(page, name)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"], name
    page.set_viewport_size(LAPTOP)


def upload(page: Any, paths: list[Path]) -> None:
    page.click("a[data-nav=upload]")
    page.set_input_files("#file-input", [str(p) for p in paths])


def no_injected_markup(page: Any) -> None:
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img[src=x], img[onerror]").count() == 0


def open_document(page: Any, filename: str) -> None:
    page.click("a[data-nav=documents]")
    page.get_by_role("link", name=filename, exact=True).click()
    sync_api.expect(page.locator("h1.doc-title")).to_have_text(filename)


def listed(page: Any) -> Any:
    sync_api.expect(page.locator(".table-region[aria-busy=false]")).to_be_visible()
    return page.locator("tr[data-id] th a")


def test_a_user_signs_in_through_the_hosted_ui_uploads_files_and_follows_them_to_processed(
    browser: Any, web: WebStack, files: dict[str, Path]
) -> None:
    page = new_page(browser, LAPTOP)
    page.goto(web.api + "/#/dashboard")
    sync_api.expect(page.locator("#sign-in")).to_be_visible()
    both_sizes(page, "00-signed-out")
    page.click("#sign-in")
    sync_api.expect(page.locator("#signInFormUsername")).to_be_visible()
    assert "/login?" in page.url and "code_challenge_method=S256" in page.url
    page.fill("#signInFormUsername", "demo")
    page.fill("#signInFormPassword", "Not-the-password-1")
    page.click("button[name=signInSubmitButton]")
    sync_api.expect(page.locator("[role=alert]")).to_have_text("Incorrect username or password.")
    both_sizes(page, "01-hosted-ui")
    page.fill("#signInFormPassword", web.demo_password)
    page.click("button[name=signInSubmitButton]")
    sync_api.expect(page.locator("#total")).to_be_visible()  # back where the user was going
    assert page.url.endswith("#/dashboard") and "code=" not in page.url
    assert page.evaluate("() => localStorage.length") == 0

    upload(page, [files["pdf"], files["jpg"], files["csv"], files["docx"]])
    uploads = page.locator("li.upload")
    sync_api.expect(uploads).to_have_count(4)
    names = [files[k].name for k in ("pdf", "jpg", "csv", "docx")]
    sync_api.expect(uploads.locator(".upload-name")).to_have_text(names)  # in the order chosen
    for i in range(4):
        sync_api.expect(uploads.nth(i).locator(".badge-processed")).to_be_visible(timeout=60_000)
        assert uploads.nth(i).locator("progress").evaluate("p => p.value") == 100
    both_sizes(page, "02-uploaded")

    page.click("a[data-nav=documents]")
    sync_api.expect(page.locator("tr[data-id] .badge-processed")).to_have_count(4)
    sync_api.expect(page.locator("tr[data-id] [data-records=COMPLETE_WITH_ERRORS]")).to_have_count(1, timeout=60_000)
    sync_api.expect(page.get_by_role("link", name=PDF_NAME, exact=True)).to_be_visible()
    no_injected_markup(page)
    both_sizes(page, "03-documents")
    assert page.errors == []


def test_search_finds_a_piece_of_the_name_title_or_author_in_any_case(browser: Any, web: WebStack) -> None:
    page = new_page(browser, LAPTOP)
    sign_in(page, web)
    page.fill("#f-q", "LEDG")
    sync_api.expect(listed(page)).to_have_text(["Ledger.csv"])
    assert "q=LEDG" in page.url
    page.fill("#f-q", "harbour")  # a piece of the middle of the name, another case
    sync_api.expect(listed(page)).to_have_text(["Sunset over the Harbour.jpg"])
    page.fill("#f-q", "quarterly")  # the PDF's title
    sync_api.expect(listed(page)).to_have_text([PDF_NAME])
    page.fill("#f-q", "ada lovelace")  # the Word document's author
    sync_api.expect(listed(page)).to_have_text(["plan.docx"])
    page.fill("#f-q", "FOSSILS FOUND")  # a piece of the PDF's extracted text
    sync_api.expect(listed(page)).to_have_text([PDF_NAME])
    both_sizes(page, "04-search")
    page.fill("#f-q", "nothing is called this")
    sync_api.expect(page.locator(".table-region .notice")).to_contain_text("No document matches")
    page.fill("#f-q", "")
    sync_api.expect(listed(page)).to_have_count(4)
    no_injected_markup(page)
    assert page.errors == []


def test_the_table_sorts_by_name_size_and_date_from_its_headers(browser: Any, web: WebStack) -> None:
    page = new_page(browser, LAPTOP)
    sign_in(page, web)
    # three uploads start at once, so the API says which was created first
    token = page.evaluate("() => JSON.parse(sessionStorage.getItem('docpipe.session')).idToken")
    items = requests.get(f"{web.api}/documents", headers={"Authorization": token}, timeout=5).json()["items"]
    newest_first = [d["filename"] for d in sorted(items, key=lambda d: d["created_at"], reverse=True)]
    sync_api.expect(listed(page)).to_have_text(newest_first)
    page.click("th button[data-sort=name]")
    by_name = [PDF_NAME, "Ledger.csv", "plan.docx", "Sunset over the Harbour.jpg"]
    sync_api.expect(listed(page)).to_have_text(by_name)
    assert page.locator("th[aria-sort=ascending]").inner_text().startswith("NAME") and "sort=name" in page.url
    shot(page, "05-sorted-by-name")
    page.click("th button[data-sort=name]")
    sync_api.expect(listed(page)).to_have_text(list(reversed(by_name)))
    assert page.locator("th[aria-sort=descending]").count() == 1
    page.click("th button[data-sort=size]")  # largest first
    sync_api.expect(listed(page)).to_have_text(["Sunset over the Harbour.jpg", "Ledger.csv", "plan.docx", PDF_NAME])
    page.click("th button[data-sort=created]")
    sync_api.expect(listed(page)).to_have_text(newest_first)
    page.set_viewport_size(PHONE)  # the headers fold away on a phone: the sort menu does the same
    page.select_option("#f-sort", "name")
    sync_api.expect(listed(page)).to_have_text(by_name)
    shot(page, "05-sorted-by-name")
    assert page.errors == []


def pdf_text(preview: Any) -> None:
    sync_api.expect(preview.locator("pre.preview-text")).to_contain_text(PDF_TEXT[1])


def first_rows(preview: Any) -> None:
    sync_api.expect(preview.locator("table.preview-table tbody tr").first).to_contain_text("item 1")


def office_text(preview: Any) -> None:
    sync_api.expect(preview).to_contain_text(DOCX_TEXT[1])


@pytest.mark.parametrize(
    ("key", "expect_inside"), [("pdf", pdf_text), ("jpg", None), ("csv", first_rows), ("docx", office_text)]
)
def test_the_detail_view_shows_the_content_inline(
    browser: Any, web: WebStack, files: dict[str, Path], key: str, expect_inside: Any
) -> None:
    page = new_page(browser, LAPTOP)
    sign_in(page, web)
    open_document(page, files[key].name)
    preview = page.locator("#preview-body")
    sync_api.expect(preview).to_be_visible()
    if key == "jpg":
        image = preview.locator("img.preview-image")
        sync_api.expect(image).to_be_visible()
        assert image.get_attribute("src").startswith("data:image/")
        box = image.bounding_box()
        assert box is not None and box["width"] >= 200  # a useful size, not a 360 px frame
    assert page.locator("iframe").count() == 0
    assert page.locator("#preview-page").get_attribute("href").startswith("http")  # the page stays for sharing
    no_injected_markup(page)
    both_sizes(page, f"06-preview-{key}")
    assert page.errors == []
    if expect_inside is not None:
        expect_inside(preview)
    if key in ("pdf", "docx"):  # the whole extracted text is a link away
        sync_api.expect(page.locator("#full-text")).to_have_attribute("href", re.compile(r"^https?://"))
        sync_api.expect(page.locator(".full-text")).to_contain_text("words")


def test_the_pdfs_metadata_timeline_preview_and_download_through_the_links_its_answer_carried(
    browser: Any, web: WebStack, files: dict[str, Path]
) -> None:
    page = new_page(browser, LAPTOP)
    sign_in(page, web)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    open_document(page, PDF_NAME)
    sync_api.expect(page.locator(".doc-status .badge-processed")).to_be_visible()
    sync_api.expect(page.locator("#full-text")).to_have_attribute("href", re.compile(r"^https?://"))
    metadata = page.locator("dl[data-list=metadata]")
    sync_api.expect(metadata.locator(".meta-row", has_text="Title").locator("dd")).to_have_text(PDF_TITLE)
    sync_api.expect(metadata.locator(".meta-row", has_text="Page count").locator("dd")).to_have_text("2")
    sync_api.expect(metadata.locator(".meta-row", has_text="Author").locator("dd")).to_have_text("Grace Hopper")
    assert metadata.locator("dt").first.inner_text() == "Title"  # normalized fields first
    assert page.locator("details.fold summary", has_text="Details").count() == 1
    sync_api.expect(page.locator("ol.timeline li")).to_have_count(3)
    with page.expect_download() as download:
        page.click("#download")
    assert Path(download.value.path()).read_bytes() == files["pdf"].read_bytes()
    # the document's answer carried the links: no request for the preview's, the text's or the download's
    assert not [url for url in asked if url.endswith(("/download", "/preview", "/text"))]
    no_injected_markup(page)
    assert page.errors == []


def test_a_csv_shows_its_rows_its_rejected_rows_and_exports_them(browser: Any, web: WebStack) -> None:
    page = new_page(browser, LAPTOP)
    sign_in(page, web)
    open_document(page, "Ledger.csv")
    sync_api.expect(page.locator(".doc-status [data-records=COMPLETE_WITH_ERRORS]")).to_be_visible(timeout=60_000)
    progress = f"{CSV_ROWS} of {CSV_ROWS + 1} rows stored, 1 rejected"
    sync_api.expect(page.locator("#records-progress-label")).to_contain_text(progress)
    table = page.locator("table.rows").filter(has=page.locator("th", has_text="#"))
    sync_api.expect(table.locator("thead th")).to_have_text(["#", "id", "item", "amount", "note"])
    sync_api.expect(table.locator("tbody tr").first).to_contain_text("item 1")
    rejected = page.locator("#rejected-rows tbody tr")
    sync_api.expect(rejected).to_have_count(1)
    sync_api.expect(rejected.first.locator("td")).to_have_text(["61", "62", "expected 4 fields, found 2"])
    scroller = page.locator("[aria-label='Rows of this CSV (scrolls sideways)']")
    both_sizes(page, "07-csv-rows")
    page.set_viewport_size(PHONE)
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")  # the table scrolls; no column is cut off
    page.set_viewport_size(LAPTOP)
    page.get_by_role("navigation", name="Row pages").get_by_role("button", name="Next →").click()
    sync_api.expect(table.locator("tbody tr").first.locator("th")).to_have_text("26")

    with page.expect_download() as download:
        page.click("#export-rows")
    exported = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert exported[0] == ["id", "item", "amount", "note"] and len(exported) == CSV_ROWS + 1
    assert exported[1][:3] == ["1", "item 1", "1.25"] and exported[-1][0] == str(CSV_ROWS)
    sync_api.expect(page.locator("#export-note")).to_contain_text(f"{CSV_ROWS} rows exported")
    assert page.errors == []


def test_a_broken_file_fails_with_its_reason_and_the_filters_find_it(
    browser: Any, web: WebStack, files: dict[str, Path]
) -> None:
    page = new_page(browser, LAPTOP)
    sign_in(page, web)
    upload(page, [files["broken"]])
    sync_api.expect(page.locator("li.upload .badge-failed")).to_be_visible(timeout=60_000)
    page.click("a[data-nav=documents]")
    page.select_option("#f-status", "FAILED")
    sync_api.expect(listed(page)).to_have_text(["broken.pdf"])
    assert "status=FAILED" in page.url
    page.select_option("#f-status", "")
    page.select_option("#f-family", "tabular")
    sync_api.expect(listed(page)).to_have_text(["Ledger.csv"])
    page.select_option("#f-family", "")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    page.fill("#f-from", "2000-01-01")
    page.fill("#f-to", "2000-12-31")
    sync_api.expect(page.locator(".table-region .notice")).to_contain_text("No document matches")
    page.fill("#f-to", today)
    sync_api.expect(listed(page)).to_have_count(5)
    page.get_by_role("link", name="broken.pdf", exact=True).click()
    failure = page.locator(".failure")
    sync_api.expect(failure).to_contain_text("Processing failed")
    assert failure.locator("code").inner_text() in {"corrupt", "unsupported"}
    summary = page.locator("details.fold summary", has_text="Details").inner_text()
    assert re.fullmatch(r"Details \((1 field|[02-9]\d* fields|1\d+ fields)\)", summary), summary
    shot(page, "08-detail-failed")
    assert page.errors == []


def test_the_dashboard_draws_counts_by_status_and_type(browser: Any, web: WebStack) -> None:
    for viewport in SIZES:
        page = new_page(browser, viewport)
        sign_in(page, web)
        page.click("a[data-nav=dashboard]")
        sync_api.expect(page.locator("#total")).to_have_text("5")
        sync_api.expect(page.locator("#chart-status tr[data-key=PROCESSED] td")).to_have_text("4")
        sync_api.expect(page.locator("#chart-status tr[data-key=FAILED] td")).to_have_text("1")
        sync_api.expect(page.locator("#chart-family tr[data-key=tabular] td")).to_have_text("1")
        assert page.locator(".bars .bar").count() >= 2
        shot(page, "09-dashboard")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
        assert page.errors == []


def test_two_documents_are_deleted_at_once(browser: Any, web: WebStack) -> None:
    page = new_page(browser, LAPTOP)
    sign_in(page, web)
    sync_api.expect(listed(page)).to_have_count(5)
    for name in ("broken.pdf", "plan.docx"):
        page.get_by_role("checkbox", name=f"Select {name}").check()
    sync_api.expect(page.locator("#bulk-count")).to_have_text("2 selected")
    both_sizes(page, "10-bulk-selected")
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.click("#bulk-delete")
    sync_api.expect(page.locator(".action-message")).to_contain_text("Deleted 2 of 2.")
    assert asked and asked[0].startswith("Delete 2 documents?")
    sync_api.expect(listed(page)).to_have_count(3)
    assert "broken.pdf" not in listed(page).all_inner_texts() and "plan.docx" not in listed(page).all_inner_texts()
    sync_api.expect(page.locator("#bulk")).to_be_hidden()
    shot(page, "10-bulk-deleted")
    page.get_by_role("checkbox", name="Select every document on this page").check()
    sync_api.expect(page.locator("#bulk-count")).to_have_text("3 selected")
    page.once("dialog", lambda dialog: dialog.dismiss())  # cancelling deletes nothing
    page.click("#bulk-delete")
    sync_api.expect(listed(page)).to_have_count(3)
    assert page.errors == []


def test_signing_out_ends_the_session_here_and_at_the_hosted_ui(browser: Any, web: WebStack) -> None:
    page = new_page(browser, PHONE)
    sign_in(page, web)
    stored = json.loads(page.evaluate("() => sessionStorage.getItem('docpipe.session')"))
    assert stored["username"] == "demo" and stored["idToken"].count(".") == 2 and stored["refreshToken"]
    assert page.evaluate("() => localStorage.length") == 0
    shot(page, "11-signed-in")
    page.click("#logout")
    sync_api.expect(page.locator("#sign-in")).to_be_visible()
    sync_api.expect(page.locator(".login .notice")).to_contain_text("signed out")
    assert page.evaluate("() => sessionStorage.getItem('docpipe.session')") is None
    page.click("#sign-in")  # the hosted UI's own session ended too: it asks for the password again
    sync_api.expect(page.locator("#signInFormPassword")).to_be_visible()
    config = requests.get(f"{web.api}/config.json", timeout=5).json()
    refresh = {"grant_type": "refresh_token", "client_id": config["client_id"], "refresh_token": stored["refreshToken"]}
    answer = requests.post(f"{web.api}/oauth2/token", data=refresh, timeout=5)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"  # revoked, not just forgotten


def test_a_refused_token_ends_the_session_and_asks_to_sign_in_again(browser: Any, web: WebStack) -> None:
    page = new_page(browser, LAPTOP)
    sign_in(page, web)
    # Tamper with the stored id token's signature: the gateway answers 401.
    page.evaluate(
        """() => {
            const s = JSON.parse(sessionStorage.getItem('docpipe.session'));
            s.idToken = s.idToken.slice(0, -4) + (s.idToken.endsWith('AAAA') ? 'BBBB' : 'AAAA');
            s.refreshToken = null;
            sessionStorage.setItem('docpipe.session', JSON.stringify(s));
        }"""
    )
    page.evaluate("() => { location.hash = '#/dashboard'; }")  # the list's own polling may get there first
    sync_api.expect(page.locator("#sign-in")).to_be_visible()
    sync_api.expect(page.locator(".login .notice")).to_contain_text("no longer valid")
    assert page.evaluate("() => sessionStorage.getItem('docpipe.session')") is None
    shot(page, "12-session-ended")
    page.evaluate("() => { location.hash = '#/upload'; }")  # the screen drawn again still says why
    sync_api.expect(page.locator(".login .notice")).to_contain_text("no longer valid")
    page.click("#sign-in")  # until someone signs in again (the hosted UI still knows this browser)
    page.wait_for_selector("#topbar:not([hidden])")
    page.click("#logout")
    sync_api.expect(page.locator(".login .notice")).to_contain_text("signed out")


def test_an_expired_token_is_never_sent(browser: Any, web: WebStack) -> None:
    page = new_page(browser, LAPTOP)
    sign_in(page, web)
    sync_api.expect(page.locator(".table-region[aria-busy=false]")).to_be_visible()
    page.click("a[data-nav=upload]")  # a view that calls nothing authenticated until a file is chosen
    sync_api.expect(page.locator("#dropzone")).to_be_visible()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "authorization" in r.headers else None)
    page.evaluate(
        """() => {
            const s = JSON.parse(sessionStorage.getItem('docpipe.session'));
            s.exp = Math.floor(Date.now() / 1000) - 10;
            s.refreshToken = null;
            sessionStorage.setItem('docpipe.session', JSON.stringify(s));
        }"""
    )
    started = time.monotonic()
    page.evaluate("() => { location.hash = '#/dashboard'; }")
    sync_api.expect(page.locator(".login .notice")).to_contain_text("expired")
    assert sent == [] and time.monotonic() - started < 20


def test_an_id_token_about_to_expire_is_renewed_at_the_token_endpoint(browser: Any, web: WebStack) -> None:
    page = new_page(browser, LAPTOP)
    sign_in(page, web)
    before = page.evaluate("() => JSON.parse(sessionStorage.getItem('docpipe.session')).idToken")
    page.evaluate(
        """() => {
            const s = JSON.parse(sessionStorage.getItem('docpipe.session'));
            s.exp = Math.floor(Date.now() / 1000) + 30;
            sessionStorage.setItem('docpipe.session', JSON.stringify(s));
        }"""
    )
    renewals: list[str] = []
    page.on("request", lambda r: renewals.append(r.post_data or "") if r.url.endswith("/oauth2/token") else None)
    page.click("a[data-nav=dashboard]")
    sync_api.expect(page.locator("#total")).to_be_visible()
    after = page.evaluate("() => JSON.parse(sessionStorage.getItem('docpipe.session'))")
    assert after["idToken"] != before and after["exp"] > time.time() + 300
    assert any("grant_type=refresh_token" in body for body in renewals)


def test_a_sign_in_link_this_tab_did_not_start_is_refused(browser: Any, web: WebStack) -> None:
    page = new_page(browser, LAPTOP)
    page.goto(web.api + "/?code=stolen-code&state=someone-elses-state")
    sync_api.expect(page.locator(".login [role=alert]")).to_contain_text("not the one this tab started")
    assert "code=" not in page.url and page.evaluate("() => sessionStorage.getItem('docpipe.session')") is None
