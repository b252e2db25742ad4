import codecs

from chalicelib.extraction.extractors import text
from chalicelib.extraction.extractors.base import Source
from chalicelib.extraction.reader import bytes_reader


def run(data: bytes, mime: str = "text/plain", name: str = "notes.txt"):
    return text.extract(Source(bytes_reader(data), len(data), name, mime, data[:8192]))


def test_plain_utf8_text_reports_encoding_and_counts():
    out = run("héllo wörld\nsecond line here\n".encode())
    assert out.fields == {"encoding": "utf-8", "word_count": 5}
    assert out.details["line_count"] == 2
    assert out.details["character_count"] == 29
    assert out.details["newline"] == "lf"


def test_a_last_line_without_newline_still_counts():
    out = run(b"one\r\ntwo\r\nthree")
    assert out.details["line_count"] == 3
    assert out.details["newline"] == "crlf"


def test_byte_order_marks_decide_utf16_and_utf32():
    body = "a b c\n"
    assert run(codecs.BOM_UTF16_LE + body.encode("utf-16-le")).fields["encoding"] == "utf-16le"
    assert run(codecs.BOM_UTF16_BE + body.encode("utf-16-be")).fields["encoding"] == "utf-16be"
    out = run(codecs.BOM_UTF32_LE + body.encode("utf-32-le"))
    assert out.fields == {"encoding": "utf-32le", "word_count": 3}
    assert out.details["bom"] is True


def test_utf16_without_bom_is_recognised_by_its_nul_bytes():
    out = run("plain english text without a mark\n".encode("utf-16-be"))
    assert out.fields["encoding"] == "utf-16be"
    assert out.fields["word_count"] == 6


def test_windows_1252_text_is_detected():
    out = run("Voilà une phrase française, très ordinaire, à l'été.\n".encode("cp1252"))
    assert out.fields["encoding"] == "cp1252"
    assert out.fields["word_count"] == 8


def test_counts_are_partial_past_the_cap(monkeypatch):
    monkeypatch.setattr(text, "COUNT_CAP", 1000)
    out = run(b"word " * 1000)
    assert out.details["counts_partial"] is True
    assert out.fields["word_count"] == 200
    assert out.warnings


def test_words_split_across_chunks_are_counted_once(monkeypatch):
    monkeypatch.setattr(text, "CHUNK", 7)
    out = run(b"alpha beta\r\ngamma delta epsilon\n")
    assert out.fields["word_count"] == 5
    assert out.details["line_count"] == 2


def test_markdown_title_comes_from_front_matter_first():
    doc = b'---\ntitle: "Release notes"\nauthor: x\n---\n# Heading\n'
    assert run(doc, "text/markdown", "notes.md").fields["title"] == "Release notes"


def test_markdown_title_is_the_first_heading():
    assert run(b"intro\n\n## Install\n\n# Later\n", name="README.md").fields["title"] == "Install"
    assert run(b"Project Name\n============\n\ntext\n", name="README.md").fields["title"] == "Project Name"


def test_an_empty_file_has_no_words():
    out = run(b"", name="empty.md")
    assert out.fields.get("word_count") == 0
    assert "title" not in out.fields
