"""Plain text of every text-bearing family, bounded, with its language and word count."""

from __future__ import annotations

import email.message
import io
import random
import re
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import charset_normalizer
import pytest
from langdetect import DetectorFactory  # type: ignore[import-untyped]
from langdetect.detector import Detector  # type: ignore[import-untyped]
from langdetect.detector_factory import PROFILES_DIRECTORY  # type: ignore[import-untyped]
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError

from chalicelib.aws.storage import text_key
from chalicelib.extraction import text as text_module
from chalicelib.extraction.bounds import Limits
from chalicelib.extraction.extract import extract, extract_inline
from chalicelib.extraction.extractors import markup as markup_extractor
from chalicelib.extraction.reader import RangedReader, bytes_reader
from chalicelib.extraction.renditions import markup as markup_rendition
from chalicelib.extraction.renditions.markup import PARSED_TEXT, html_text
from chalicelib.extraction.sandbox import Session
from chalicelib.extraction.text import Full, Sink, TextBudget, extract_text, read_text, tidy
from chalicelib.extraction.texts import email as email_text
from chalicelib.extraction.texts import pdf as pdf_text
from tests.support import samples
from tests.unit.extractors.cfb_fixture import build
from tests.unit.extractors.test_epub import CONTAINER, OPF, book
from tests.unit.extractors.test_office import ooxml, package

ENGLISH = "The committee approved the budget for the new library after a long debate about the roof."
FRENCH = "Le conseil municipal a approuvé le budget de la nouvelle bibliothèque après un long débat."
GERMAN = "Der Gemeinderat hat den Haushalt für die neue Bibliothek nach einer langen Debatte genehmigt."
FAST = Limits(wall_seconds=20.0, cpu_seconds=20.0, memory_bytes=512 * 1024 * 1024)


def text_of(data: bytes, name: str, budget: TextBudget | None = None) -> Any:
    metadata = extract_inline(bytes_reader(data), name).metadata
    return extract_text(bytes_reader(data), metadata, budget)


def test_a_pdf_gives_the_text_of_its_pages_in_order_with_language_and_word_count() -> None:
    found = text_of(samples.text_pdf([ENGLISH, "Second page."]), "minutes.pdf")
    assert found.text == f"{ENGLISH}\n\nSecond page."
    assert found.language == "en"
    assert found.word_count == len(ENGLISH.split()) + 2
    assert found.truncated is False


def test_ligatures_in_a_pdf_come_out_as_letters_so_a_search_for_the_word_finds_it() -> None:
    ligature = "<< /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [1 /fi] >>"
    data = samples.content_pdf([b"BT /F1 12 Tf 72 712 Td (The mis\\001ts \\001nd the way.) Tj ET"], ligature)
    found = text_of(data, "misfits.pdf")
    assert found.text == "The misfits find the way."  # not "mis\ufb01ts": the glyph is named /fi


def test_a_hyphen_that_ends_a_line_of_a_pdf_stays_with_its_line_break() -> None:
    lines = b"BT /F1 12 Tf 72 712 Td (a well-known and long-) Tj 0 -14 Td (standing debate) Tj ET"
    found = text_of(samples.content_pdf([lines]), "debate.pdf")
    assert found.text == "a well-known and long-\nstanding debate"


def test_a_pdf_whose_trailer_lost_its_catalog_still_gives_its_text_through_the_repairing_parser() -> None:
    data = samples.text_pdf([ENGLISH]).replace(b" /Root 1 0 R", b"")
    found = extract_text(bytes_reader(data), {"family": "pdf", "mime_type": "application/pdf"})
    assert found is not None and found.text == ENGLISH


def test_a_damaged_pdf_is_repaired_once_and_its_text_reuses_the_repair_extraction_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = samples.text_pdf([ENGLISH]).replace(b" /Root 1 0 R", b"")  # no catalog in the trailer: PDFium refuses it
    data = data.replace(b"%PDF-1.4\n", b"%PDF-1.4\n%moved\n")  # every xref offset off: pypdf's strict mode too
    reader = bytes_reader(data)
    extraction = extract_inline(reader, "minutes.pdf")
    assert "pdf: repaired a damaged file structure" in extraction.warnings

    def no_second_parse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the file was parsed again")

    monkeypatch.setattr(pdf_text, "PdfReader", no_second_parse)
    found = extract_text(reader, extraction.metadata)
    assert found is not None and found.text == ENGLISH
    with pytest.raises(AssertionError, match="parsed again"):  # another reader of the file has no repair to reuse
        extract_text(bytes_reader(data), extraction.metadata)


def _without_page_tree(padding: bytes) -> bytes:
    """A PDF PDFium refuses (no catalog in its trailer) whose page tree object is zeroed, as a damaged disk leaves it,
    after `padding`, its startxref lost: the cross-reference table must be rebuilt from the whole file."""
    data = samples.text_pdf([ENGLISH]).replace(b" /Root 1 0 R", b"")
    start = data.index(b"2 0 obj")
    end = data.index(b"endobj", start) + len(b"endobj")
    data = data[:start] + b"\0" * (end - start) + data[end:]
    return re.sub(rb"startxref\s+\d+", b"startxref\n9", data.replace(b"%PDF-1.4\n", b"%PDF-1.4\n" + padding))


def test_a_large_damaged_pdf_whose_page_tree_is_gone_loses_its_text_without_a_repair_that_could_not_find_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _without_page_tree((b"%" + b"x" * 78 + b"\n") * 40_000)  # 3.2 MB
    with pytest.raises(PdfReadError, match="Invalid object in /Pages"):  # what the repair would have come to
        len(PdfReader(io.BytesIO(data), strict=False).pages)
    reader = bytes_reader(data)
    extraction = extract_inline(reader, "minutes.pdf")

    def no_repair(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the whole file was parsed to rebuild its cross-reference table")

    monkeypatch.setattr(pdf_text, "PdfReader", no_repair)
    found, warnings = read_text(reader, extraction.metadata, sandbox=False)
    assert found is None
    reason = "pdf: no page tree: the catalog's /Pages names object 2 0, which the file does not hold"
    assert warnings == [f"text: left out (corrupt: {reason})"]


def test_a_damaged_pdf_whose_page_tree_may_sit_in_an_object_stream_is_still_repaired_for_its_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _without_page_tree(b"% /Type /ObjStm\n")  # an object stream could hold object 2: no verdict from bytes
    repairs: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        repairs.append(1)
        return PdfReader(*args, **kwargs)

    monkeypatch.setattr(pdf_text, "PdfReader", counted)
    found, warnings = read_text(bytes_reader(data), {"family": "pdf", "mime_type": "application/pdf"}, sandbox=False)
    assert repairs == [1]
    assert found is None and warnings == ["text: left out (PdfReadError: Invalid object in /Pages)"]


def test_a_damaged_pdf_is_fetched_once_for_its_repair_even_by_a_reader_whose_cache_cannot_hold_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page-tree check and pypdf's repair share one read of the file, not a read and a re-read from the cache."""
    data = _without_page_tree(b"% /Type /ObjStm\n" + (b"%" + b"x" * 78 + b"\n") * 4_000)  # 320 KB: no verdict

    def fetch(start: int, end: int) -> bytes:
        return data[start : end + 1]

    reader = RangedReader(fetch, len(data), block_size=4096, max_run_bytes=16 * 1024, cache_bytes=64 * 1024)

    def refused(*args: Any, **kwargs: Any) -> Any:  # as PDFium refuses this file, but without reading it first
        raise pdf_text.pdfium.PdfiumError("Failed to load document", err_code=pdf_text.pdfium_c.FPDF_ERR_FORMAT)

    monkeypatch.setattr(pdf_text.pdfium, "PdfDocument", refused)
    found, warnings = read_text(reader, {"family": "pdf", "mime_type": "application/pdf"}, sandbox=False)
    assert found is None and warnings == ["text: left out (PdfReadError: Invalid object in /Pages)"]
    assert reader.bytes_fetched == len(data)


def test_a_pdf_needing_a_user_password_gives_no_text_and_reads_no_further() -> None:
    data = samples.text_pdf([ENGLISH])
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt("secret", algorithm="AES-256")
    locked = io.BytesIO()
    writer.write(locked)
    assert extract_text(bytes_reader(locked.getvalue()), {"family": "pdf", "mime_type": "application/pdf"}) is None


def test_pdfs_read_in_process_from_several_threads_at_once_each_give_their_own_text() -> None:
    pages = {n: [f"Document {n} page {page}." for page in range(40)] for n in range(6)}
    documents = {n: samples.text_pdf(lines) for n, lines in pages.items()}
    metadata = {"family": "pdf", "mime_type": "application/pdf"}

    def read(n: int) -> tuple[int, str]:
        found = extract_text(bytes_reader(documents[n]), metadata)
        return n, "" if found is None else found.text

    with ThreadPoolExecutor(max_workers=6) as threads:
        results = list(threads.map(read, [*documents] * 5))
    assert len(results) == 30
    for n, found in results:
        assert found == "\n\n".join(pages[n])


def test_a_docx_gives_its_paragraphs_with_tabs_and_breaks() -> None:
    body = (
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        f"<w:p><w:r><w:t>{ENGLISH}</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Name</w:t><w:tab/><w:t>Value</w:t><w:br/><w:t>next line</w:t></w:r>"
        "<w:r><w:delText>removed</w:delText></w:r></w:p></w:body></w:document>"
    )
    found = text_of(ooxml("word/document.xml", **{"word/document.xml": body}), "a.docx")
    assert found.text == f"{ENGLISH}\nName\tValue\nnext line"


def test_a_pptx_gives_its_slides_in_slide_order_not_name_order() -> None:
    def slide(words: str) -> str:
        return (
            '<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><a:p><a:r>'
            f"<a:t>{words}</a:t></a:r></a:p></p:sld>"
        )

    data = ooxml(
        "ppt/presentation.xml",
        **{"ppt/slides/slide10.xml": slide("tenth"), "ppt/slides/slide2.xml": slide("second")},
    )
    assert text_of(data, "deck.pptx").text == "second\n\ntenth"


def test_an_xlsx_gives_its_shared_strings() -> None:
    strings = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<si><t>Region</t></si><si><r><t>North </t></r><r><t>East</t></r></si></sst>"
    )
    data = ooxml("xl/workbook.xml", **{"xl/sharedStrings.xml": strings})
    assert text_of(data, "sales.xlsx").text == "Region\nNorth East"


def test_an_odt_keeps_spaces_tabs_and_line_breaks_of_mixed_content() -> None:
    content = (
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
        "<text:h>Title</text:h><text:p>one<text:s text:c='3'/>two<text:tab/>three<text:line-break/>"
        "<text:span>four</text:span> five</text:p></office:text></office:body></office:document-content>"
    )
    data = package({"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": content, "meta.xml": "<x/>"})
    assert text_of(data, "a.odt").text == "Title\none   two\tthree\nfour five"


def test_an_rtf_gives_its_body_without_tables_fields_or_pictures() -> None:
    data = (
        rb"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Times;}}{\info{\title Secret title}}"
        rb"{\*\generator Writer;}Caf\'e9 \u8364?5{\field{\*\fldinst HYPERLINK x}{\fldrslt link}}\par"
        rb"{\pict 89504e47}Line two\tab end}"
    )
    assert text_of(data, "a.rtf").text == "Café €5link\nLine two\tend"


def test_an_epub_gives_its_chapters_in_spine_order_as_text() -> None:
    data = book(
        {
            "META-INF/container.xml": CONTAINER,
            "OEBPS/content.opf": OPF,
            "OEBPS/b.xhtml": "<html><body><p>Second chapter.</p></body></html>",
            "OEBPS/a.xhtml": "<html><head><style>p{}</style></head><body><h1>One</h1><p>First.</p></body></html>",
        }
    )
    assert text_of(data, "book.epub").text == "One\n\nFirst.\n\nSecond chapter."


def _message(subject: str, body: str, html: bool = False) -> bytes:
    message = email.message.EmailMessage()
    message["From"] = "a@example.com"
    message["Subject"] = subject
    message.set_content(body, subtype="html" if html else "plain")
    return bytes(message)


def test_an_email_gives_its_subject_and_body_and_an_html_body_as_text() -> None:
    assert text_of(_message("Budget", ENGLISH), "a.eml").text == f"Budget\n\n{ENGLISH}"
    html = _message("Hi", "<p>Hello <script>alert(1)</script><b>there</b></p>", html=True)
    assert text_of(html, "b.eml").text == "Hi\n\nHello there"


def test_an_emails_text_comes_from_the_parse_extraction_made_not_a_second_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader = bytes_reader(_message("Budget", ENGLISH))
    metadata = extract_inline(reader, "a.eml").metadata
    monkeypatch.setattr(email_text, "BytesParser", _no_second_email_parse)
    found = extract_text(reader, metadata)
    assert found is not None and found.text == f"Budget\n\n{ENGLISH}"
    assert metadata["subject"] == "Budget"


def _no_second_email_parse(**_: Any) -> Any:
    raise AssertionError("the message was parsed again for its text")


def _multipart() -> bytes:
    message = email.message.EmailMessage()
    message["From"] = "Ann <a@example.com>"
    message["Subject"] = "=?utf-8?q?caf=C3=A9?= notes"
    message.set_content(ENGLISH)
    message.add_alternative(f"<p>{FRENCH}</p>", subtype="html")
    message.add_attachment(b"\x00\x01", maintype="application", subtype="octet-stream", filename="a.bin")
    return bytes(message)


@pytest.mark.parametrize(
    "data",
    [
        _message("Budget", ENGLISH),
        _message("Hi", f"<p>{GERMAN}</p>", html=True),
        _multipart(),
        b"From a@x Mon Jan  1 00:00:00 2024\n" + _message("Enveloped", FRENCH),  # parsed again: the envelope line
        b"Subject: bare\r\n\r\nbody\xff\xfe bytes\r\n",
    ],
)
def test_an_emails_text_is_the_same_whether_extraction_parsed_it_first_or_not(data: bytes) -> None:
    reader = bytes_reader(data)
    metadata = extract_inline(reader, "m.eml").metadata
    assert extract_text(reader, metadata) == extract_text(bytes_reader(data), metadata)


def test_an_mbox_gives_every_message() -> None:
    data = b"From a@x Mon Jan  1 00:00:00 2024\n" + _message("One", "first") + b"\n"
    data += b"From b@x Mon Jan  1 00:00:00 2024\n" + _message("Two", "second")
    assert text_of(data, "box.mbox").text == "One\n\nfirst\n\nTwo\n\nsecond"


def test_html_gives_text_never_markup_and_xml_gives_its_character_data() -> None:
    html = f"<!DOCTYPE html><html><head><title>T</title></head><body><p>{ENGLISH}</p><script>x()</script></body></html>"
    assert text_of(html.encode(), "a.html").text == f"T\n\n{ENGLISH}"
    xml = b'<?xml version="1.0"?><catalog><book><title>Dune</title><author>Herbert</author></book></catalog>'
    assert text_of(xml, "c.xml").text == "Dune\nHerbert"


def test_an_html_pages_text_comes_from_the_parse_extraction_made_not_a_second_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = f"<html><head><title>T</title><meta name=author content=Ann></head><body><p>{ENGLISH}</p></body></html>"
    reader = bytes_reader(page.encode())
    metadata = extract_inline(reader, "a.html").metadata
    monkeypatch.setattr(markup_rendition, "html_text", _no_second_parse)  # `page_text` parses through it
    found = extract_text(reader, metadata)
    assert found is not None and found.text == f"T\n\n{ENGLISH}"
    assert metadata["author"] == "Ann" and metadata["title"] == "T"


def _no_second_parse(markup: str, limit: int) -> str:
    raise AssertionError("the page was parsed again for its text")


_MARKUP = (
    "<p>", "</p>", "<div class='x'>", "</div>", "<script>var a='</p>';</script>", "<style>p{}</style>", "text ",
    "caf\u00e9 ", "&amp;", "&eacute;", "&#233;", "&", "&am", "<!-- c -->", "<!--", "-->", "<br/>", "<br>",
    "<img src=x/>", "<", ">", "\n", "  ", "<![CDATA[x]]>", "<!DOCTYPE html>", "<title>T</title>", "<title>U",
    "<svg><text>s</text></svg>", "</", "<a href='&amp;'>l</a>", "<?pi ?>", "\u00e9\u4e2d", "<td>c</td>",
)  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_the_text_collected_while_extracting_an_html_page_is_the_text_a_parse_of_its_own_gives(seed: int) -> None:
    draw = random.Random(seed)
    body = "".join(draw.choice(_MARKUP) for _ in range(draw.randrange(1, 80)))
    page = "<!DOCTYPE html><html><body>" + body * (1 if seed % 4 else 3000)  # every 4th is fed in parts (> 64 KB)
    reader = bytes_reader(page.encode())
    metadata = extract_inline(reader, "page.html").metadata
    collected = reader.parsed[PARSED_TEXT]
    assert collected.text_of(page, TextBudget().max_bytes) == html_text(page, TextBudget().max_bytes)
    assert extract_text(reader, metadata) == extract_text(bytes_reader(page.encode()), metadata)


def test_an_html_page_decoded_otherwise_for_its_text_is_parsed_again_and_its_text_is_the_same() -> None:
    page = '<html><head><meta charset="koi8-r"></head><body><p>Короткий текст про погоду.</p></body></html>'
    data = page.encode("koi8-r")
    reader = bytes_reader(data)
    metadata = extract_inline(reader, "ru.html").metadata
    assert metadata["encoding"] == "koi8-r"  # the extractor follows the meta tag; the text stage guesses
    assert extract_text(reader, metadata) == extract_text(bytes_reader(data), metadata)


def test_the_extractor_collects_as_much_html_text_as_the_text_stage_keeps() -> None:
    assert TextBudget().max_bytes == markup_extractor.TEXT_LIMIT


def test_an_8bit_texts_encoding_is_guessed_from_its_bytes_once_for_detection_extraction_and_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guesses: list[int] = []
    guess = charset_normalizer.from_bytes

    def counted(data: bytes, **kwargs: Any) -> Any:
        guesses.append(len(data))
        return guess(data, **kwargs)

    monkeypatch.setattr(charset_normalizer, "from_bytes", counted)
    german = f"{GERMAN} Größe und Übermaß.\n".encode("cp1252") * 20
    reader = bytes_reader(german)
    metadata = extract_inline(reader, "a.txt").metadata
    found = extract_text(reader, metadata)
    assert metadata["encoding"] == "cp1252" and found is not None and found.language == "de"
    assert len(guesses) == 1  # detection, the extractor and the text producer share the one guess
    russian = "Короткий текст про погоду в городе.\n".encode("koi8-r") * 20
    other = bytes_reader(russian)
    assert extract_text(other, extract_inline(other, "b.txt").metadata) is not None
    assert len(guesses) == 2  # another file: its own guess, never the first file's


def test_markdown_and_plain_text_are_decoded_with_their_encoding() -> None:
    assert text_of("# Titre\n\nÉté à Paris.\n".encode("utf-16"), "a.md").text == "# Titre\n\nÉté à Paris."
    assert text_of(f"{GERMAN}\n".encode("cp1252"), "a.txt").language == "de"


def _word_document(text: str) -> bytes:
    """A Word 97 binary: FIB, the text as one 8-bit piece, and the piece table in 1Table."""
    body = text.encode("cp1252")
    fib = bytearray(0x800)
    struct.pack_into("<HH", fib, 0, 0xA5EC, 0xC1)
    struct.pack_into("<H", fib, 0x0A, 0x0200)  # fWhichTblStm: the table stream is 1Table
    struct.pack_into("<i", fib, 0x4C, len(text))  # ccpText
    pieces = struct.pack("<ii", 0, len(text)) + struct.pack("<HIH", 0, 0x40000000 | 0x1000, 0)  # 8-bit at 0x800
    clx = b"\x02" + struct.pack("<I", len(pieces)) + pieces
    struct.pack_into("<II", fib, 0x01A2, 0, len(clx))
    return build({"WordDocument": bytes(fib) + body, "1Table": clx})


def test_a_legacy_word_document_gives_its_main_text_from_the_piece_table() -> None:
    text = f"{FRENCH}\rSecond paragraph\x13 HYPERLINK x \x14link\x15.\r"
    found = text_of(_word_document(text), "old.doc")
    assert found.text == f"{FRENCH}\nSecond paragraphlink."
    assert found.language == "fr"


def test_a_family_without_text_gives_none_and_so_does_a_document_without_any() -> None:
    assert text_of(samples.png(), "a.png") is None
    assert text_of(samples.pdf(pages=2), "blank.pdf") is None


def test_the_text_is_cut_at_its_byte_cap_and_says_so() -> None:
    data = ("word " * 100_000).encode()
    found = text_of(data, "long.txt", TextBudget(max_bytes=1000))
    assert found.truncated is True and len(found.text.encode()) <= 1000 and found.word_count == 200


def test_reading_stops_at_the_read_cap() -> None:
    data = ("w " * 2_000_000).encode()
    reader = bytes_reader(data)
    found = extract_text(reader, {"family": "text", "mime_type": "text/plain"}, TextBudget(max_read_bytes=256 * 1024))
    assert found is not None and found.truncated is True
    assert reader.bytes_fetched < 2 * 1024 * 1024


def test_a_slow_document_gives_the_text_found_before_the_time_budget_ran_out() -> None:
    def slow(start: int, end: int) -> bytes:
        time.sleep(0.05)
        return data[start : end + 1]

    data = ("word " * 400_000).encode()
    reader = RangedReader(slow, len(data), block_size=4096, max_run_bytes=4096)
    found = extract_text(reader, {"family": "text", "mime_type": "text/plain"}, TextBudget(seconds=0.3))
    assert found is not None and found.truncated is True and 0 < found.word_count < 400_000


def test_tidy_drops_control_characters_lone_surrogates_and_runs_of_blank_lines() -> None:
    assert tidy("a\x00b\x07\r\n\n\n\nc\ud800 ") == "ab\n\nc?"


def test_a_sink_refuses_more_once_full() -> None:
    sink = Sink(bytes_reader(b""), TextBudget(max_bytes=4))
    with pytest.raises(Full):
        sink.add("abcdef")
    assert sink.text() == "abcd" and sink.truncated


def test_text_runs_in_the_sandbox_session_and_reuses_the_extraction_reads() -> None:
    data = samples.text_pdf([ENGLISH] * 3)
    reader = bytes_reader(data)
    with Session(reader) as session:
        from chalicelib.extraction.extract import extract

        metadata = extract(reader, "a.pdf", limits=FAST, session=session).metadata
        fetched = reader.bytes_fetched
        found, warnings = read_text(reader, metadata, FAST, True, session)
    assert found is not None and found.language == "en" and warnings == []
    assert reader.bytes_fetched == fetched == len(data)  # the text came from the worker's cache


def test_a_pdf_whose_page_inflates_past_the_memory_bound_loses_its_text_not_its_metadata_or_the_next_file() -> None:
    packer = zlib.compressobj(9)
    operators = b"BT /F1 12 Tf 72 712 Td (x) Tj ET\n" * 30_000  # 1 MB of drawing, 377 MB inflated
    body = b"".join(packer.compress(operators) for _ in range(400)) + packer.flush()
    data = samples.content_pdf([body], stream_entries=" /Filter /FlateDecode")
    bound = Limits(wall_seconds=20.0, cpu_seconds=20.0, memory_bytes=256 * 1024 * 1024)
    reader = bytes_reader(data)
    with Session(reader) as session:
        metadata = extract(reader, "bomb.pdf", limits=bound, session=session).metadata
        found, warnings = read_text(reader, metadata, bound, True, session)
    assert metadata["page_count"] == 1
    assert found is None and len(warnings) == 1 and warnings[0].startswith("text: left out (too_large: ")
    assert "SIGABRT" in warnings[0]  # PDFium aborts on a failed allocation: the memory bound, not a damaged file
    after = bytes_reader(samples.text_pdf([ENGLISH]))
    with Session(after) as session:
        metadata = extract(after, "minutes.pdf", limits=bound, session=session).metadata
        found, warnings = read_text(after, metadata, bound, True, session)
    assert found is not None and found.text == ENGLISH and warnings == []


def test_a_text_producer_that_fails_leaves_a_warning_not_a_failure() -> None:
    metadata = {"family": "office", "mime_type": "application/vnd.oasis.opendocument.text"}
    found, warnings = read_text(bytes_reader(b"not a zip at all"), metadata, FAST, True)
    assert found is None and warnings and warnings[0].startswith("text: left out (corrupt:")


def test_the_text_lives_beside_the_rendition_never_under_uploads() -> None:
    assert text_key("abc123", "renditions/", "uploads/") == "renditions/abc123.txt"
    with pytest.raises(ValueError):
        text_key("abc123", "uploads/x/", "uploads/")


class _CountingReader(RangedReader):
    """A reader that counts the Python-level reads a parser makes of it."""

    calls = 0

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        self.calls += 1
        return super().readinto(buffer)

    def read(self, size: int | None = -1) -> bytes:
        self.calls += 1
        return super().read(size)


def test_a_pdfs_text_is_read_through_a_buffer_not_one_python_call_per_byte() -> None:
    data = samples.text_pdf([ENGLISH] * 20)
    reader = _CountingReader(lambda start, end: data[start : end + 1], len(data))
    metadata = extract_inline(bytes_reader(data), "minutes.pdf").metadata
    found = extract_text(reader, metadata)
    assert found is not None and found.text.count(ENGLISH) == 20
    assert reader.calls * 100 < len(data)  # pypdf's tokenizer asks for a byte at a time: the buffer takes those


@pytest.mark.parametrize(
    "sample",
    [
        ENGLISH,
        FRENCH,
        GERMAN,
        "Короткий текст",
        "東京は日本の首都です。",
        "ok",
        "Hola. Ciao. Hallo. Hello. Olá. Hej. " * 40,
        f"{ENGLISH} {FRENCH} {GERMAN} " * 20,
    ],
)
def test_language_detection_gives_upstream_langdetects_answer_and_probabilities(sample: str) -> None:
    upstream, ours = _both_detectors(sample)
    expected = [(found.lang, found.prob) for found in upstream.get_probabilities()]
    found = [(found.lang, found.prob) for found in ours.get_probabilities()]
    assert [lang for lang, _ in found] == [lang for lang, _ in expected]
    assert ours.langprob == pytest.approx(upstream.langprob, rel=0, abs=1e-12)  # every language, not just winners


@pytest.mark.parametrize("seed", range(30))
def test_language_detection_agrees_with_upstream_on_mixes_of_languages(seed: int) -> None:
    draw = random.Random(seed)
    words = f"{ENGLISH} {FRENCH} {GERMAN} Короткий текст 東京は日本の首都です。".split()
    sample = " ".join(draw.choice(words) for _ in range(draw.randrange(2, 200)))
    upstream, ours = _both_detectors(sample)
    expected = [found.lang for found in upstream.get_probabilities()]
    assert [found.lang for found in ours.get_probabilities()] == expected
    assert ours.langprob == pytest.approx(upstream.langprob, rel=0, abs=1e-12)


def test_languages_that_fall_out_of_the_race_are_no_longer_multiplied() -> None:
    _, ours = _both_detectors(ENGLISH * 3)
    assert ours.get_probabilities()[0].lang == "en"
    assert 0 < ours.products < 55 * ours.batches  # upstream multiplies all 55 at every draw


@pytest.mark.parametrize("sample", ["Lorem ipsum dolor sit amet", "Bonjour hello guten Tag", "Hola Ciao"])
def test_a_text_no_language_wins_stops_its_trials_once_none_can_reach_the_confidence(sample: str) -> None:
    upstream, ours = _both_detectors(sample)
    ours.confidence = text_module.LANGUAGE_CONFIDENCE
    best = upstream.get_probabilities()[0]
    assert best.prob < text_module.LANGUAGE_CONFIDENCE  # seven trials: no answer
    ours.get_probabilities()
    assert ours.trials < upstream.n_trial
    assert max(ours.langprob) + (upstream.n_trial - ours.trials) / upstream.n_trial < text_module.LANGUAGE_CONFIDENCE
    assert text_module.detect_language(sample) is None


def test_a_text_a_language_wins_runs_every_trial_and_keeps_upstreams_probabilities() -> None:
    upstream, ours = _both_detectors(FRENCH)
    ours.confidence = text_module.LANGUAGE_CONFIDENCE
    assert ours.get_probabilities()[0].lang == upstream.get_probabilities()[0].lang == "fr"
    assert ours.trials == upstream.n_trial
    assert ours.langprob == pytest.approx(upstream.langprob, rel=0, abs=1e-12)


_APPENDED = (
    "ab AB  éÆ  Жж 日本 ạ a\u0300 e\u0301  [\\]^_` {|}~ 0189 ;:"  # letters, Vietnamese marks, the signs between Z and a
    " https://example.com/a?b=c&d=e#f mail me@example.org "  # a URL and an address, replaced by a space
)


@pytest.mark.parametrize("seed", range(30))
def test_the_text_a_detection_looks_at_is_upstream_langdetects(seed: int) -> None:
    draw = random.Random(seed)
    pieces = _APPENDED.split(" ") + list(_LETTERS)
    sample = "".join(draw.choice(pieces) + draw.choice(["", " ", "  "]) for _ in range(draw.randrange(1, 900)))
    upstream, ours = _both_detectors(sample)
    assert ours.text == upstream.text
    for detector in (upstream, ours):
        detector.cleaning_text()
    assert ours.text == upstream.text


@pytest.mark.parametrize("count", [1, 2, 5, 7, 64, 1000])
def test_a_batch_of_five_draws_is_five_single_draws(count: int) -> None:
    rows = list(range(count))
    batched, single = text_module._Draw(random.Random(count), rows), text_module._Draw(random.Random(count), rows)
    for _ in range(200):
        assert batched.five() == [single() for _ in range(5)]


def _both_detectors(sample: str) -> tuple[Detector, Detector]:
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.seed = 0
    upstream = factory.create()
    ours = text_module._Detector(text_module._profiles())
    for detector in (upstream, ours):
        detector.max_text_length = text_module.LANGUAGE_SAMPLE_CHARS
        detector.append(sample)
    return upstream, ours


_LETTERS = (
    "abcxyzABCXYZ  .,;'-0189\t\n"  # Latin, capitals (whole capital words are skipped), punctuation and digits
    "éèàçßñøÆÐ\u00d7\u00f7¡¿ªº"  # Latin-1 letters and the signs langdetect treats as spaces
    "șțăâîđơưạảấầẩẫậ"  # Romanian and Vietnamese
    "абвгдЖЗИЙ"  # Cyrillic, both cases
    "العربيةپچ"  # Arabic
    "日本語の文字カタカナひらがな漢字中国话"  # CJK, kana
    "한국어글자ㄱㅏ"  # Hangul
    "\u2013\u2014\u2018\u2019\u201c\u201d\u2026"  # general punctuation
    "\U0001d400\U0001f600"  # outside the BMP
)


@pytest.mark.parametrize("seed", range(40))
def test_language_ngrams_are_upstream_langdetects_in_the_same_order(seed: int) -> None:
    draw = random.Random(seed)
    sample = "".join(draw.choice(_LETTERS) for _ in range(draw.randrange(1, 600)))
    ours = text_module._Detector(text_module._profiles())
    ours.max_text_length = text_module.LANGUAGE_SAMPLE_CHARS
    ours.append(sample)
    assert ours._extract_ngrams() == Detector._extract_ngrams(ours)


def _tidy_line_by_line(text: str) -> str:
    """What `tidy` does: control characters out, no trailing white space on a line, one blank line at most."""
    cleaned = text.encode("utf-8", "replace").decode("utf-8")
    cleaned = "".join(ch for ch in cleaned if ch in "\t\n\r" or not (ord(ch) < 32 or ord(ch) == 127))
    lines = [line.rstrip() for line in cleaned.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept = [line for i, line in enumerate(lines) if line or i == 0 or lines[i - 1]]
    return "\n".join(kept).strip("\n")


@pytest.mark.parametrize("seed", range(30))
def test_tidy_keeps_what_a_line_by_line_clean_up_keeps(seed: int) -> None:
    draw = random.Random(seed)
    alphabet = "ab \t\n\r\x00\x07\x0b\x0c\x1c\x1f\x7f\x85\xa0\u1680\u2000\u2028\u2029\u3000\ud800é日\x80\x9f"
    sample = "".join(draw.choice(alphabet) for _ in range(draw.randrange(0, 300)))
    assert tidy(sample) == _tidy_line_by_line(sample)


def test_a_large_pdf_whose_xref_must_be_rebuilt_keeps_metadata_within_256_kb_and_its_text_from_the_repair() -> None:
    data = samples.text_pdf([ENGLISH])
    padding = (b"%" + b"x" * 78 + b"\n") * 40_000  # 3.2 MB of comments after the header
    data = re.sub(rb"startxref\s+\d+", b"startxref\n9", data.replace(b"%PDF-1.4\n", b"%PDF-1.4\n" + padding))
    reader = bytes_reader(data)
    extraction = extract_inline(reader, "scanned-minutes.pdf")
    assert reader.bytes_fetched <= 256 * 1024  # a whole-file scan for the xref would read 3.2 MB
    assert extraction.metadata["family"] == "pdf"  # described, not failed: a full read would open it
    assert "page_count" not in extraction.metadata
    assert any("within the first 256 KB" in warning for warning in extraction.warnings)
    assert reader.fetch_budget is None  # the bound was metadata's, not the text's
    found = extract_text(reader, extraction.metadata)
    assert found is not None and found.text == ENGLISH
