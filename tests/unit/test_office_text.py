"""Office text read from expat's callbacks is the text defusedxml's `iterparse` path gives, member by member."""

from __future__ import annotations

import io
import random
import zipfile
from typing import Any

import pytest

from chalicelib.extraction.reader import bytes_reader
from chalicelib.extraction.text import Full, Sink, TextBudget
from chalicelib.extraction.texts import office

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_RUNS = (
    "<w:r><w:t>word </w:t></w:r>", "<w:r><w:t xml:space='preserve'> spaced </w:t></w:r>", "<w:r><w:tab/></w:r>",
    "<w:r><w:br/></w:r>", "<w:r><w:cr/></w:r>", "<w:r><w:rPr><w:b/></w:rPr><w:t>caf\u00e9 &amp; &#x263A;</w:t></w:r>",
    "<w:r><w:t><![CDATA[<x>]]></w:t></w:r>", "<!-- c -->", "<?pi x?>", "\n  ", "<w:r><w:t>a<w:tab/>b</w:t></w:r>",
    "<w:r><w:t></w:t></w:r>", "<w:p><w:r><w:t>inner</w:t></w:r></w:p>", "tail text",
)  # fmt: skip
_BREAKAGE = ("&bad;", "<", "</w:r>", "<w:t>", "\x00")


def _document(draw: random.Random) -> bytes:
    paragraphs = [
        "<w:p>" + "".join(draw.choice(_RUNS) for _ in range(draw.randrange(0, 8))) + "</w:p>"
        for _ in range(draw.randrange(0, 40))
    ]
    body = "".join(paragraphs)
    if draw.random() < 0.3:  # break it somewhere
        at = draw.randrange(0, len(body) + 1)
        body = body[:at] + draw.choice(_BREAKAGE) + body[at:]
    text = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body>{body}</w:body></w:document>'
    data = text.encode()
    if draw.random() < 0.3:
        data = data[: draw.randrange(0, len(data) + 1)]  # cut anywhere
    return data


def _read(member: bytes, reader: Any, budget: TextBudget) -> tuple[str, bool, str | None]:
    package = zipfile.ZipFile(io.BytesIO(_zip(member)))
    sink = Sink(bytes_reader(b""), budget)
    error = None
    try:
        reader(package, "word/document.xml", office.WORD, sink)
    except Full:
        error = "Full"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    return sink.text(), sink.truncated, error


def _zip(member: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("word/document.xml", member)
    return buffer.getvalue()


@pytest.mark.parametrize("seed", range(150))
def test_a_members_paragraphs_are_the_ones_iterparse_gives(seed: int) -> None:
    draw = random.Random(seed)
    member = _document(draw)
    budget = TextBudget(
        max_bytes=draw.choice([1 << 20, 40]), max_member_bytes=draw.choice([1 << 20, len(member) // 2 + 1])
    )
    assert _read(member, office.member_text, budget) == _read(member, office.defused_member_text, budget)


def test_a_member_that_spans_many_reads_gives_every_paragraph_in_order() -> None:
    paragraphs = [f"<w:p><w:r><w:t>line {n}</w:t></w:r><w:r><w:tab/><w:t>x</w:t></w:r></w:p>" for n in range(3000)]
    member = f'<w:document xmlns:w="{_W}"><w:body>{"".join(paragraphs)}</w:body></w:document>'.encode()
    found = _read(member, office.member_text, TextBudget())
    assert found == _read(member, office.defused_member_text, TextBudget())
    assert found[0].splitlines()[:2] == ["line 0\tx", "line 1\tx"] and len(found[0].splitlines()) == 3000


def test_a_member_with_a_document_type_is_read_through_defusedxml_and_its_entities_refused() -> None:
    member = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "expanded">]>'
        b'<w:document xmlns:w="' + _W.encode() + b'"><w:p><w:r><w:t>&e;</w:t></w:r></w:p></w:document>'
    )
    text, _, error = _read(member, office.member_text, TextBudget())
    assert error is not None and error.startswith("EntitiesForbidden") and "expanded" not in text
    assert _read(member, office.member_text, TextBudget()) == _read(member, office.defused_member_text, TextBudget())


def test_a_member_without_a_document_type_is_not_read_through_elementtree(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_iterparse(*_: Any, **__: Any) -> Any:
        raise AssertionError("read through ElementTree's parser glue")

    monkeypatch.setattr(office.SafeET, "iterparse", no_iterparse)
    member = f'<w:document xmlns:w="{_W}"><w:p><w:r><w:t>only</w:t></w:r></w:p></w:document>'.encode()
    assert _read(member, office.member_text, TextBudget()) == ("only", False, None)
