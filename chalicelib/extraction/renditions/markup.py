"""HTML as text only; XML, SVG and feeds as their escaped source.

An HTML document is never passed through, not even "sanitized": the standard
library's tolerant `html.parser` walks it and only character data survives,
with the content of script, style and other non-text elements dropped and a
line break where a block element ends. Attributes (on* handlers, javascript:
URLs) are never looked at, so none can reach the page. SVG is XML here, shown
as source text, never as an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions import text as plain
from chalicelib.extraction.renditions.base import Budget, Content, Excerpt, cut
from chalicelib.extraction.spacing import blank_lines_cut, lines_stripped, spaces_folded

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_SKIPPED = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg", "math"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure",
        "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
        "pre", "section", "table", "td", "th", "tr", "ul", "title",
    }
)  # fmt: skip


class _TextOnly(HTMLParser):
    """Collects character data outside skipped elements, up to `limit` characters."""

    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping.append(tag)
        elif tag in _BLOCKS:
            self._add("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._add("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skipping:
            while self.skipping and self.skipping.pop() != tag:
                pass
        elif tag in _BLOCKS:
            self._add("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self._add(data)

    def _add(self, text: str) -> None:
        if self.size < self.limit:
            self.parts.append(text)
            self.size += len(text)


def html_text(markup: str, limit: int) -> str:
    """The readable text of an HTML document (never its markup), about `limit` characters at most."""
    parser = _TextOnly(limit)
    for start in range(0, len(markup), 64 * 1024):
        if parser.size >= parser.limit:
            break
        parser.feed(markup[start : start + 64 * 1024])
    parser.close()
    return text_of(parser.parts)


def text_of(parts: list[str]) -> str:
    """The collected character data as `html_text` returns it: spaces and blank lines tidied."""
    return blank_lines_cut(lines_stripped(spaces_folded("".join(parts)), both_ends=True)).strip()


PARSED_TEXT = "html_text"
"""Name, in `RangedReader.parsed`, of the text the HTML extractor collected while it parsed the page."""


@dataclass(frozen=True)
class CollectedText:
    """What one parse of a page collected: the markup it parsed, the limit, and `html_text`'s parts of it."""

    markup: str
    limit: int
    parts: list[str]

    def text_of(self, markup: str, limit: int) -> str | None:
        """`html_text(markup, limit)` without parsing again, or None when the parse was of other markup or took less.

        A smaller limit takes the parts `html_text` would have taken: each part
        is kept while less than `limit` characters were kept before it.
        """
        if limit > self.limit or markup != self.markup:
            return None
        if self.parts and sum(map(len, self.parts)) - len(self.parts[-1]) < limit:
            return text_of(self.parts)  # the limit was not reached before the last part: every part is kept
        kept, size = [], 0
        for part in self.parts:
            if size >= limit:
                break
            kept.append(part)
            size += len(part)
        return text_of(kept)


class TextAlongside:
    """`html_text`'s collector driven by another parser's events, so one parse of a page gives its text too.

    `html.parser` reports the same events however the markup is cut into
    feeds, so the parts collected here are the ones `html_text` collects from
    the same markup (tests/unit/test_text.py checks it on random markup).
    """

    def __init__(self, limit: int) -> None:
        self.collector = _TextOnly(limit)

    def starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.collector.handle_starttag(tag, attrs)

    def startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.collector.handle_startendtag(tag, attrs)

    def endtag(self, tag: str) -> None:
        self.collector.handle_endtag(tag)

    def data(self, data: str) -> None:
        self.collector.handle_data(data)


def page_text(reader: RangedReader, markup: str, limit: int) -> str:
    """`html_text(markup, limit)`, taken from the extractor's parse of this page when it parsed this very markup."""
    parsed = reader.parsed.get(PARSED_TEXT)
    found = parsed.text_of(markup, limit) if isinstance(parsed, CollectedText) else None
    return html_text(markup, limit) if found is None else found


def content(reader: RangedReader, document: dict[str, Any], budget: Budget) -> Content:
    mime_type = (document.get("metadata") or {}).get("mime_type")
    if mime_type not in HTML_TYPES:
        source = plain.content(reader, document, budget)
        return Content([Excerpt("Source", b.text, b.note) for b in source.blocks if isinstance(b, Excerpt)])
    markup, more = plain.read_text(reader, budget)
    text, cut_off = cut(page_text(reader, markup, budget.excerpt_chars), budget.excerpt_chars)
    note = "Text only: markup, scripts and styles are left out."
    if more or cut_off:
        note = f"The first {len(text):,} characters of text; markup, scripts and styles are left out."
    return Content([Excerpt("Text", text, note)])
