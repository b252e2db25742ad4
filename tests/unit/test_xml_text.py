"""XML text read from expat's callbacks is the text defusedxml's `iterparse` path gives."""

from __future__ import annotations

import random
from typing import Any

import pytest

from chalicelib.extraction.reader import bytes_reader
from chalicelib.extraction.text import Full, Sink, TextBudget
from chalicelib.extraction.texts import markup

_PIECES = (
    "<a>", "</a>", "<b x='1'>", "</b>", "<c/>", "<n:d xmlns:n='urn:x'>", "</n:d>", " words here ", "\n  ", "caf\u00e9",
    "&amp;", "&#x263A;", "<![CDATA[<raw>]]>", "<!-- note -->", "<?pi data?>", "tail", "  ",
)  # fmt: skip
_BREAKAGE = ("&bad;", "<", "</zz>", "<n:q>", "\x00")


def _document(draw: random.Random) -> bytes:
    body = "".join(draw.choice(_PIECES) for _ in range(draw.randrange(0, 200)))
    body = body.replace("</a>", "", body.count("</a>") - body.count("<a>")) if body.count("</a>") else body
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<root>{_balanced(body)}</root>\n'
    if draw.random() < 0.3:
        at = draw.randrange(0, len(text) + 1)
        text = text[:at] + draw.choice(_BREAKAGE) + text[at:]
    data = text.encode()
    if draw.random() < 0.3:
        data = data[: draw.randrange(0, len(data) + 1)]
    return data


def _balanced(body: str) -> str:
    """The body with unmatched end tags dropped and open elements closed, so most documents are well formed."""
    out: list[str] = []
    open_tags: list[str] = []
    for piece in _split(body):
        if piece.startswith("</"):
            if open_tags and open_tags[-1] == piece[2:-1]:
                out.append(piece)
                open_tags.pop()
        elif piece.startswith("<") and not piece.startswith(("<!", "<?")) and not piece.endswith("/>"):
            out.append(piece)
            open_tags.append(piece[1:-1].split()[0])
        else:
            out.append(piece)
    return "".join(out) + "".join(f"</{tag}>" for tag in reversed(open_tags))


def _split(body: str) -> list[str]:
    pieces, rest = [], body
    while rest:
        match = next((p for p in _PIECES if rest.startswith(p)), rest[0])
        pieces.append(match)
        rest = rest[len(match) :]
    return pieces


def _read(document: bytes, reader: Any, budget: TextBudget) -> tuple[str, bool, str | None]:
    sink = Sink(bytes_reader(document), budget)
    error = None
    try:
        reader(bytes_reader(document), sink)
    except Full:
        error = "Full"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    return sink.text(), sink.truncated, error


@pytest.mark.parametrize("seed", range(150))
def test_an_xml_documents_lines_are_the_ones_iterparse_gives(seed: int) -> None:
    draw = random.Random(seed)
    document = _document(draw)
    budget = TextBudget(max_bytes=draw.choice([1 << 20, 1 << 20, 60]))
    assert _read(document, markup.xml_text, budget) == _read(document, markup.defused_xml_text, budget)


def test_a_document_that_spans_many_reads_gives_every_line_in_order() -> None:
    document = ("<r>" + "".join(f"<p>line {n}<b>bold</b> tail {n}</p>" for n in range(3000)) + "</r>").encode()
    found = _read(document, markup.xml_text, TextBudget())
    assert found == _read(document, markup.defused_xml_text, TextBudget())
    assert found[0].splitlines()[:2] == ["bold", "line 0 tail 0"] and found[2] is None


def test_a_document_with_a_document_type_is_read_through_defusedxml_and_its_entities_refused() -> None:
    document = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "expanded">]><r><p>&e;</p></r>'
    text, _, error = _read(document, markup.xml_text, TextBudget())
    assert error is not None and error.startswith("EntitiesForbidden") and "expanded" not in text
    assert _read(document, markup.xml_text, TextBudget()) == _read(document, markup.defused_xml_text, TextBudget())


def test_an_xml_document_without_a_document_type_is_not_read_through_elementtree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_iterparse(*_: Any, **__: Any) -> Any:
        raise AssertionError("read through ElementTree's parser glue")

    monkeypatch.setattr(markup.SafeET, "iterparse", no_iterparse)
    assert _read(b"<r><p>only</p></r>", markup.xml_text, TextBudget()) == ("only", False, None)
