"""The HTML rendition: one page per family, every value inert, bounded in size and time."""

from __future__ import annotations

import base64
import email.message
import io
import tarfile
import time
import zipfile
from html.parser import HTMLParser
from typing import Any

import pytest

from chalicelib.aws.storage import rendition_key
from chalicelib.extraction import bounds, rendition
from chalicelib.extraction.extract import extract_inline
from chalicelib.extraction.reader import bytes_reader
from chalicelib.extraction.rendition import HEADER_CSP, PAGE_CSP, Rendition, render
from chalicelib.extraction.renditions import markup as markup_rendition
from chalicelib.extraction.renditions.base import Budget, Content, Excerpt
from chalicelib.extraction.renditions.markup import PARSED_TEXT, html_text
from tests.support import samples

HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_CELL = "<img src=x onerror=alert(1)>"
HOSTILE_URL = "javascript:alert(1)"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- how a page is inspected: parsed, never pattern-matched -------------------------------------


class Page(HTMLParser):
    """Everything a browser would see as elements, attributes and text."""

    def __init__(self, body: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.feed(body.decode("utf-8"))
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, name, value or "") for name, value in attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)

    def values(self, tag: str, name: str) -> list[str]:
        return [value for t, n, value in self.attrs if t == tag and n == name]


def assert_inert(body: bytes) -> Page:
    """No script element, no event handler, no javascript: URL, nothing loaded from elsewhere."""
    page = Page(body)
    assert "script" not in page.tags
    assert not {"iframe", "object", "embed", "base", "link", "form", "frame"} & set(page.tags)
    assert not [name for _, name, _ in page.attrs if name.startswith("on")]
    for _, name, value in page.attrs:
        if name in {"href", "src", "action", "formaction", "xlink:href", "srcset", "poster"}:
            squeezed = "".join(value.split()).lower()
            assert not squeezed.startswith("javascript:"), (name, value)
            assert squeezed.startswith("data:image/"), (name, value)
    assert page.values("meta", "content")[0] == PAGE_CSP
    assert page.values("meta", "http-equiv") == ["Content-Security-Policy"]
    return page


def document(filename: str, mime_type: str, family: str, **metadata: Any) -> dict[str, Any]:
    return {
        "id": "0123456789abcdef0123456789abcdef",
        "filename": filename,
        "status": "PROCESSED",
        "created_at": "2026-01-02T03:04:05.000+00:00",
        "updated_at": "2026-01-02T03:04:06.000+00:00",
        "metadata": {"mime_type": mime_type, "family": family, **metadata},
        "warnings": [],
    }


def rendered(data: bytes, filename: str, mime_type: str, family: str, **metadata: Any) -> tuple[Rendition, Page]:
    result = render(document(filename, mime_type, family, size=len(data), **metadata), bytes_reader(data))
    return result, assert_inert(result.body)


# --- small real files made here -------------------------------------------------------------------


def text_pdf(lines: list[str], title: str) -> bytes:
    """A one-page PDF that draws `lines` in Helvetica, with a document-info title."""
    stream = b"BT /F1 12 Tf 72 720 Td 14 TL " + b" ".join(b"(%s) '" % line.encode("latin-1") for line in lines) + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (%s) >>" % title.encode("latin-1"),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def xlsx(rows: list[list[str | int]], sheet_name: str = "Budget") -> bytes:
    """A minimal real workbook: shared strings for text, numbers inline."""
    shared: list[str] = []
    cells = []
    for r, row in enumerate(rows, start=1):
        xml_cells = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if isinstance(value, int):
                xml_cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                shared.append(value)
                xml_cells.append(f'<c r="{ref}" t="s"><v>{len(shared) - 1}</v></c>')
        cells.append(f'<row r="{r}">{"".join(xml_cells)}</row>')
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    from xml.sax.saxutils import escape, quoteattr

    strings = "".join(f"<si><t>{escape(s)}</t></si>" for s in shared)
    members = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
        f'<sheet name={quoteattr(sheet_name)} sheetId="1" r:id="rId7"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId7" Type="worksheet" Target="worksheets/data.xml"/></Relationships>',
        "xl/worksheets/data.xml": f'<worksheet xmlns="{main}"><sheetData>{"".join(cells)}</sheetData></worksheet>',
        "xl/sharedStrings.xml": f'<sst xmlns="{main}" count="{len(shared)}">{strings}</sst>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return out.getvalue()


def thumbnail_of(page: Page) -> Any:
    from PIL import Image

    (src,) = page.values("img", "src")
    header, payload = src.split(",", 1)
    assert header in ("data:image/png;base64", "data:image/jpeg;base64")
    return Image.open(io.BytesIO(base64.b64decode(payload)))


# --- where it is stored and how it is served ------------------------------------------------------


def test_the_rendition_key_lives_under_renditions_and_never_under_uploads():
    key = rendition_key("0123456789abcdef0123456789abcdef")
    assert key == "renditions/0123456789abcdef0123456789abcdef.html"
    assert not key.startswith("uploads/")
    with pytest.raises(ValueError, match="uploads"):
        rendition_key("abc", prefix="uploads/renditions/")
    with pytest.raises(ValueError):
        rendition_key("abc", prefix="")


@pytest.mark.parametrize("bad_id", ["", "../uploads/x", "a/b", "x" * 129, "id with space", "a.html"])
def test_a_document_id_that_could_escape_the_prefix_is_refused(bad_id):
    with pytest.raises(ValueError):
        rendition_key(bad_id)


def test_the_page_is_stored_and_served_as_restricted_utf8_html():
    result, _ = rendered(b"hello", "a.txt", "text/plain", "text")
    args = result.put_object_args()
    assert args["ContentType"] == result.content_type == "text/html; charset=utf-8"
    assert args["Metadata"]["content-security-policy"] == HEADER_CSP
    assert args["Body"] == result.body
    assert args["CacheControl"].startswith("private")
    assert result.headers["Content-Security-Policy"] == HEADER_CSP
    assert "sandbox" in HEADER_CSP and "img-src data:" in PAGE_CSP and "default-src 'none'" in PAGE_CSP
    assert result.headers["X-Content-Type-Options"] == "nosniff"
    assert all(value.isascii() for value in args["Metadata"].values())


# --- one page per family ---------------------------------------------------------------------------


def test_plain_text_shows_an_escaped_excerpt():
    data = f"first line\n{HOSTILE_TITLE}\n{HOSTILE_URL}\n".encode()
    result, page = rendered(data, "notes.txt", "text/plain", "text")
    assert result.warnings == []
    assert HOSTILE_TITLE in page.all_text and HOSTILE_URL in page.all_text
    assert "pre" in page.tags
    assert "notes.txt" in page.all_text


def test_markdown_is_shown_as_its_source_not_rendered():
    data = b"# Heading\n\n[click](javascript:alert(1))\n\n<script>alert(2)</script>\n"
    _, page = rendered(data, "readme.md", "text/markdown", "text")
    assert "[click](javascript:alert(1))" in page.all_text
    assert "<script>alert(2)</script>" in page.all_text
    assert "a" not in page.tags and "h1" in page.tags and page.tags.count("h1") == 1


def test_json_read_whole_is_reindented():
    data = b'{"name": "<img src=x onerror=alert(1)>", "n": [1, 2]}'
    _, page = rendered(data, "data.json", "application/json", "json")
    assert '"name": "<img src=x onerror=alert(1)>"' in page.all_text
    assert '\n  "n": [\n' in page.all_text


def test_xml_and_svg_are_shown_as_source_text():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
    _, page = rendered(svg, "x.svg", "image/svg+xml", "markup")
    assert 'onload="alert(1)"' in page.all_text
    assert "svg" not in page.tags and "img" not in page.tags


def test_html_keeps_only_its_text_and_drops_scripts_styles_and_attributes():
    data = (
        b"<html><head><title>Quarterly</title><style>body{color:red}</style>"
        b"<script>steal(document.cookie)</script></head><body onload='alert(1)'>"
        b"<h1>Results</h1><p>Revenue <b>grew</b>.</p><a href='javascript:alert(1)'>click me</a>"
        b"<img src=x onerror=alert(1)><iframe src='https://evil.example'>inside frame</iframe>"
        b"<p>Tail &amp; end &lt;script&gt;</p></body></html>"
    )
    _, page = rendered(data, "report.html", "text/html", "markup")
    text = page.all_text
    assert "Results" in text and "Revenue grew." in text and "click me" in text
    assert "Tail & end <script>" in text
    assert "steal(document.cookie)" not in text and "color:red" not in text and "inside frame" not in text
    assert "evil.example" not in text and "onerror" not in text


def test_an_html_pages_excerpt_comes_from_the_parse_extraction_made_not_another_one(monkeypatch):
    data = b"<html><head><title>Quarterly</title></head><body><h1>Results</h1><p>Revenue <b>grew</b>.</p></body></html>"
    reader = bytes_reader(data)
    metadata = extract_inline(reader, "report.html").metadata
    monkeypatch.setattr(markup_rendition, "html_text", _no_second_parse)
    doc = document("report.html", "text/html", "markup") | {"metadata": metadata}
    result = render(doc, reader, sandbox=False)
    assert "Revenue grew." in assert_inert(result.body).all_text


def _no_second_parse(markup: str, limit: int) -> str:
    raise AssertionError("the page was parsed again for its excerpt")


@pytest.mark.parametrize("limit", [1, 5, 40, 41, 300, 5000])
def test_an_excerpt_taken_from_the_extractions_parse_is_the_excerpt_a_parse_of_its_own_gives(limit):
    page = "<html><body>" + "".join(f"<p>Paragraph {i} &amp; more</p><script>x()</script>" for i in range(200))
    reader = bytes_reader(page.encode())
    extract_inline(reader, "page.html")
    assert reader.parsed[PARSED_TEXT].text_of(page, limit) == html_text(page, limit)


def test_csv_shows_the_first_rows_as_a_table_with_its_header():
    rows = [f"{i},name {i},{HOSTILE_CELL if i == 2 else i * 1.5}" for i in range(1, 121)]
    data = ("id,name,score\n" + "\n".join(rows) + "\n").encode()
    result, page = rendered(data, "scores.csv", "text/csv", "tabular", row_count=120, has_header=True)
    assert page.tags.count("th") == 3
    assert page.tags.count("tr") == 1 + Budget().rows
    assert HOSTILE_CELL in page.all_text
    assert "The first 50 of 120 rows." in page.all_text
    assert result.warnings == []


def test_tsv_is_split_on_tabs():
    data = b"city\tcountry\nLyon\tFrance\nOsaka\tJapan\n"
    _, page = rendered(data, "cities.tsv", "text/tab-separated-values", "tabular", has_header=True)
    assert page.tags.count("th") == 2 and page.tags.count("td") == 4
    assert "Osaka" in page.all_text and "Japan" in page.all_text


def test_xlsx_shows_the_first_rows_of_the_first_sheet():
    data = xlsx([["item", "cost"], ["paper", 12], [HOSTILE_CELL, 3], [HOSTILE_URL, 4]], sheet_name="<b>Q1</b>")
    result, page = rendered(data, "budget.xlsx", XLSX, "office")
    assert result.warnings == []
    assert "First sheet: <b>Q1</b>" in page.all_text
    assert page.tags.count("tr") == 5  # column letters + 4 rows
    assert HOSTILE_CELL in page.all_text and HOSTILE_URL in page.all_text and "paper" in page.all_text


def test_xlsx_reads_only_the_first_rows_and_the_strings_they_use():
    data = xlsx([[f"label {i}", i] for i in range(200)])
    doc = document("long.xlsx", XLSX, "office")
    page = assert_inert(render(doc, bytes_reader(data), Budget(rows=3)).body)
    assert "label 2" in page.all_text and "label 3" not in page.all_text
    assert page.tags.count("tr") == 4 and "The first 3 rows." in page.all_text


def test_xlsx_with_an_entity_bomb_is_refused_and_the_page_still_renders():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", bomb)
    result, page = rendered(out.getvalue(), "bomb.xlsx", XLSX, "office")
    assert result.warnings and result.warnings[0].startswith("rendition: xlsx content left out")
    assert "lollol" not in page.all_text
    assert "bomb.xlsx" in page.all_text


def test_pdf_shows_the_text_of_its_first_pages_and_an_inert_title():
    from chalicelib.extraction.extract import extract_inline

    data = text_pdf(["Hello from page one", "javascript:alert(1)"], title=HOSTILE_TITLE)
    metadata = extract_inline(bytes_reader(data), "doc.pdf").metadata
    assert metadata["title"] == HOSTILE_TITLE
    doc = document("doc.pdf", "application/pdf", "pdf") | {"metadata": metadata}
    result = render(doc, bytes_reader(data))
    page = assert_inert(result.body)
    assert result.warnings == []
    assert "Hello from page one" in page.all_text and HOSTILE_URL in page.all_text
    assert HOSTILE_TITLE in page.all_text


def test_a_pdf_locked_with_a_user_password_shows_no_text():
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(["secret words"], title="t"))))
    writer.encrypt(user_password="pw", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    result, page = rendered(out.getvalue(), "locked.pdf", "application/pdf", "pdf", encrypted=True)
    assert result.warnings == []
    assert "secret words" not in page.all_text and "encrypted with a password" in page.all_text


def test_a_pdf_without_text_says_so():
    _, page = rendered(samples.pdf(pages=2), "blank.pdf", "application/pdf", "pdf")
    assert "No extractable text" in page.all_text


def test_an_image_gets_an_upright_thumbnail_embedded_as_data():
    data = samples.jpeg(width=640, height=480, orientation=6)
    result, page = rendered(data, "photo.jpg", "image/jpeg", "image", width=640, height=480)
    assert result.warnings == []
    thumb = thumbnail_of(page)
    assert thumb.format == "JPEG"
    assert thumb.size == (192, 256)  # rotated upright, long side 256
    assert len(result.body) < Budget().max_output_bytes


def test_a_transparent_image_keeps_its_alpha_as_png():
    _, page = rendered(samples.png(width=600, height=300), "logo.png", "image/png", "image")
    thumb = thumbnail_of(page)
    assert thumb.format == "PNG" and thumb.mode == "RGBA" and thumb.size == (256, 128)


def test_an_image_over_the_pixel_budget_gets_no_thumbnail():
    data = samples.png(width=400, height=400)
    doc = document("big.png", "image/png", "image")
    result = render(doc, bytes_reader(data), Budget(max_pixels=100_000))
    page = assert_inert(result.body)
    assert "img" not in page.tags and "too large for a thumbnail" in page.all_text


def test_a_large_photo_gets_its_thumbnail_from_its_embedded_preview_reading_at_most_256_kb():
    data = samples.large_photo(thumbnail=True, orientation=6)
    reader = bytes_reader(data)
    doc = document("big.jpg", "image/jpeg", "image", size=len(data), width=1200, height=900)
    result = render(doc, reader)
    page = assert_inert(result.body)
    assert len(data) > 1024 * 1024 and reader.bytes_fetched <= 256 * 1024
    thumb = thumbnail_of(page).convert("RGB")
    assert thumb.size == (120, 160)  # the 160x120 preview, turned upright like the picture
    red, green, blue = thumb.getpixel((60, 80))
    assert red > 200 and green < 60 and blue < 60  # the embedded preview's pixels, not the noise
    assert "preview embedded in the 1200x900 picture" in page.all_text


def test_a_large_photo_without_an_embedded_preview_says_why_it_has_no_thumbnail():
    data = samples.large_photo(thumbnail=False)
    reader = bytes_reader(data)
    result = render(document("big.jpg", "image/jpeg", "image", size=len(data)), reader)
    page = assert_inert(result.body)
    assert reader.bytes_fetched <= 256 * 1024
    assert result.warnings == [] and "img" not in page.tags
    assert "no embedded preview" in page.all_text and "Download the file" in page.all_text


def test_a_large_gif_is_extracted_and_gets_a_thumbnail_from_its_first_frame_reading_at_most_256_kb():
    data = samples.large_gif()
    reader = bytes_reader(data)
    from chalicelib.extraction.extract import extract_inline

    metadata = extract_inline(reader, "anim.gif").metadata  # the ingest path: extraction, then the page
    result = render(document("anim.gif", "image/gif", "image") | {"metadata": metadata}, reader)
    page = assert_inert(result.body)
    assert len(data) > 512 * 1024 and reader.bytes_fetched <= 256 * 1024
    assert (metadata["width"], metadata["height"]) == (300, 300)
    assert "frames" not in metadata["details"]  # counting them would read every frame
    assert thumbnail_of(page).size == (256, 256)


def test_a_zip_lists_its_entries_by_name_and_size():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("docs/readme.txt", "x" * 10)
        archive.writestr(f"{HOSTILE_TITLE}.txt", "")
        archive.writestr("javascript:alert(1).html", "y")
    _, page = rendered(out.getvalue(), "bundle.zip", "application/zip", "archive", entry_count=3)
    assert "docs/readme.txt" in page.all_text and f"{HOSTILE_TITLE}.txt" in page.all_text
    assert "javascript:alert(1).html" in page.all_text
    assert page.tags.count("tr") == 4


def test_a_tar_lists_its_first_entries_within_the_budget():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for i in range(30):
            info = tarfile.TarInfo(f"file-{i:02}.txt")
            info.size = 3
            archive.addfile(info, io.BytesIO(b"abc"))
    doc = document("many.tar", "application/x-tar", "archive", entry_count=30)
    result = render(doc, bytes_reader(out.getvalue()), Budget(entries=10))
    page = assert_inert(result.body)
    assert "file-09.txt" in page.all_text and "file-10.txt" not in page.all_text
    assert "The first 10 of 30 entries." in page.all_text


def test_a_compressed_archive_shows_the_listing_extraction_recorded():
    entries = [{"name": "<svg onload=alert(1)>", "size": 5}, {"name": "b.txt", "size": 7}]
    data = b"\x1f\x8b\x08\x00" + b"\x00" * 20
    _, page = rendered(data, "x.tar.gz", "application/gzip", "archive", details={"entries": entries})
    assert "<svg onload=alert(1)>" in page.all_text and "svg" not in page.tags


def test_an_email_shows_headers_attachments_and_the_text_of_an_html_body():
    message = email.message.EmailMessage()
    message["From"] = "Ann <ann@example.com>"
    message["To"] = "bob@example.com"
    message["Subject"] = HOSTILE_TITLE
    message.set_content("<p onclick='alert(1)'>Meet at <b>noon</b></p><script>alert(2)</script>", subtype="html")
    message.add_attachment(b"data", maintype="application", subtype="octet-stream", filename=f"{HOSTILE_CELL}.bin")
    result, page = rendered(message.as_bytes(), "mail.eml", "message/rfc822", "email")
    assert result.warnings == []
    text = page.all_text
    assert HOSTILE_TITLE in text and "ann@example.com" in text
    assert "Meet at noon" in text and "alert(2)" not in text
    assert f"{HOSTILE_CELL}.bin" in text


def test_an_mbox_shows_its_first_message_only():
    data = (
        b"From ann@example.com Mon Jan  1 00:00:00 2024\nFrom: ann@example.com\nSubject: first\n\nbody one\n\n"
        b"From bob@example.com Mon Jan  1 00:00:00 2024\nFrom: bob@example.com\nSubject: second\n\nbody two\n"
    )
    _, page = rendered(data, "box.mbox", "application/mbox", "email")
    assert "first" in page.all_text and "body one" in page.all_text
    assert "second" not in page.all_text and "body two" not in page.all_text


def test_a_family_without_a_preview_gets_a_metadata_only_page():
    result, page = rendered(b"ID3" + b"\x00" * 100, "song.mp3", "audio/mpeg", "media", duration_seconds=12.5)
    assert result.warnings == [] and result.bytes_read == 0
    assert "Duration seconds" in page.all_text and "No preview for this type of file" in page.all_text


def test_without_a_reader_the_page_holds_the_metadata_only():
    doc = document("a.csv", "text/csv", "tabular", row_count=3)
    page = assert_inert(render(doc, None).body)
    assert "Row count" in page.all_text and "td" not in page.tags


# --- hostile metadata, broken files, bounds --------------------------------------------------------


def test_hostile_metadata_and_names_render_as_text():
    doc = document(
        f'"><script>alert(1)</script><a href="{HOSTILE_URL}">.txt',
        "text/plain",
        "text",
        title=HOSTILE_TITLE,
        author=HOSTILE_CELL,
        keywords=[HOSTILE_URL, "<style>*{display:none}</style>"],
        details={"comment": "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>", "nested": {"x": "<b>"}},
    )
    doc["warnings"] = ["<iframe src=javascript:alert(1)>"]
    doc["error"] = {"code": "corrupt", "message": "<object data=x>"}
    result = render(doc, bytes_reader(b"fine"))
    page = assert_inert(result.body)
    for value in (HOSTILE_TITLE, HOSTILE_CELL, HOSTILE_URL, "<iframe src=javascript:alert(1)>", "<object data=x>"):
        assert value in page.all_text
    assert page.tags.count("meta") == 4 and page.tags.count("style") == 1 and "a" not in page.tags
    assert page.tags.count("title") == 1


def test_control_characters_and_lone_surrogates_do_not_break_the_page():
    doc = document("nul\x00\x1b[31m\ud800.txt", "text/plain", "text", title="bell\x07 \x85next")
    page = assert_inert(render(doc, bytes_reader("ok\x00\x0c\u202e".encode())).body)
    assert "nul[31m?.txt" in page.all_text
    assert "\x00" not in page.all_text and "\x07" not in page.all_text


@pytest.mark.parametrize(
    ("mime_type", "family", "data"),
    [
        ("application/pdf", "pdf", b"%PDF-1.7\n1 0 obj garbage"),
        ("image/png", "image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),
        ("application/zip", "archive", b"PK\x03\x04 truncated"),
        (XLSX, "office", b"PK\x05\x06" + b"\x00" * 18),
        ("application/x-tar", "archive", b"\xff" * 700),
    ],
)
def test_a_broken_file_gives_a_metadata_page_and_a_warning_instead_of_raising(mime_type, family, data):
    result, page = rendered(data, "broken.bin", mime_type, family, title="Kept")
    assert len(result.warnings) == 1 and result.warnings[0].startswith("rendition: ")
    assert "Kept" in page.all_text and "No preview could be made" in page.all_text
    assert result.warnings[0] in page.all_text


def test_a_broken_file_is_handled_the_same_in_process(monkeypatch):
    monkeypatch.setenv("DOCPIPE_SANDBOX", "0")
    result, page = rendered(b"%PDF-1.7\nnonsense", "broken.pdf", "application/pdf", "pdf")
    assert result.warnings and "pdf content left out" in result.warnings[0]
    assert "broken.pdf" in page.all_text


def slow_content(reader, module, doc, budget):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # stuck computing on hostile content
        pass
    return Content([Excerpt("Text", "never")]).to_dict()


def test_content_that_takes_too_long_is_cut_off_by_the_time_limit(monkeypatch):
    monkeypatch.setenv("DOCPIPE_SANDBOX", "1")
    monkeypatch.setattr(rendition, "content_in_worker", slow_content)  # the worker runs this module's function
    started = time.monotonic()
    doc = document("a.txt", "text/plain", "text")
    result = render(doc, bytes_reader(b"x"), limits=bounds.Limits(wall_seconds=30, cpu_seconds=1))
    assert time.monotonic() - started < 30  # the CPU limit, whatever else the machine is doing
    assert result.warnings == ["rendition: text content left out (timeout: Reading the file used more than 1 s of CPU)"]
    assert "never" not in Page(result.body).all_text


def test_the_page_never_exceeds_its_size_cap():
    data = ("<&>\"'" * 200_000).encode()  # escaping multiplies this text's size by five
    doc = document(
        "big.txt", "text/plain", "text", title="t" * 50_000, details={f"k{i}": "v" * 3000 for i in range(300)}
    )
    doc["warnings"] = ["w" * 10_000] * 200
    budget = Budget(max_output_bytes=64 * 1024, excerpt_chars=100_000, read_bytes=4 * 1024 * 1024)
    result = render(doc, bytes_reader(data), budget)
    assert len(result.body) <= 64 * 1024
    page = assert_inert(result.body)
    assert "big.txt" in page.all_text and "Shortened to keep the page small." in page.all_text
    assert page.all_text.count("<&>") > 100


def test_the_default_cap_is_512_kib_and_a_large_text_stays_within_it():
    data = b"<script>" * 1_000_000
    result = render(document("huge.txt", "text/plain", "text"), bytes_reader(data))
    assert len(result.body) <= 512 * 1024
    assert result.bytes_read <= 2 * Budget().read_bytes  # the reader's read-ahead at most doubles a read
    assert "The first 20,000 characters." in assert_inert(result.body).all_text


def test_metadata_names_read_as_words_and_times_as_dates():
    doc = document(
        "scan.jpg", "image/jpeg", "image", page_count=2, gps_latitude=51.5, created="2025-06-01T08:30:00Z",
        details={"creatorTool": "Scanner 2", "digitized": "2025-06-01T10:30:00+02:00", "note": "2025-06-01 is a date"},
    )  # fmt: skip
    page = assert_inert(render(doc, None).body)
    text = page.all_text
    for shown in ("Document id", "Uploaded", "Updated", "MIME type", "Page count", "GPS latitude", "Creator tool"):
        assert shown in text, shown
    for raw in ("page_count", "mime_type", "gps_latitude", "creatorTool", "created_at"):
        assert raw not in text, raw
    assert text.count("2 Jan 2026, 03:04 UTC") == 2  # uploaded, updated
    assert text.count("1 Jun 2025, 08:30 UTC") == 2  # a time with an offset is shown in UTC
    assert "2025-06-01 is a date" in text  # text that only starts like a date stays as it is


def test_nested_values_are_tables_and_every_key_and_leaf_is_escaped():
    fonts = [{"name": HOSTILE_CELL, "embedded": False}, {"name": "Helvetica", HOSTILE_TITLE: 1}]
    doc = document("a.pdf", "application/pdf", "pdf", details={"fonts": fonts, "outline": {"Intro": {"page": 1}}})
    body = render(doc, None).body.decode()
    page = assert_inert(body.encode())
    assert body.count('<table class="nested">') == 3  # the fonts, the outline, the outline's entry
    assert "<th>name</th><th>embedded</th>" in body and "<td>no</td>" in body
    assert HOSTILE_CELL in page.all_text and HOSTILE_TITLE in page.all_text
    assert "<img" not in body and "<script>" not in body


def test_a_deep_or_long_nested_value_is_bounded():
    deep: dict[str, Any] = {"v": "bottom"}
    for _ in range(6):
        deep = {"v": deep}
    many = {f"k{i}": i for i in range(500)}
    doc = document("a.pdf", "application/pdf", "pdf", details={"deep": deep, "many": many})
    body = render(doc, None).body.decode()
    assert body.count('<table class="nested">') == rendition.MAX_NESTED_DEPTH + 1  # three levels, then JSON text
    assert "k49" in body and "k50<" not in body
