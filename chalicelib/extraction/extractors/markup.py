"""HTML, XML and SVG: the document's own metadata, read safely and in bounded time.

HTML goes through the standard library's tolerant `html.parser` over at most
`HTML_CAP` bytes (titles and meta tags live in the head; counts past the cap
are partial and say so). XML and SVG go through defusedxml's expat parser
with a target that keeps no tree: entity declarations and external
references are refused before anything is expanded (billion laughs, quadratic
blow-up, XXE), and the file is then described from what was seen up to that
point (the DOCTYPE name is the root element's name). A DOCTYPE itself is
allowed and recorded. Gzip-compressed SVG (svgz) is inflated on the fly,
bounded like the rest.
"""

from __future__ import annotations

import codecs
import gzip
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any, BinaryIO, cast

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.encoding import Encoding, sniff_encoding
from chalicelib.extraction.extractors.base import Extraction, Source, compact
from chalicelib.extraction.renditions.markup import PARSED_TEXT, CollectedText, TextAlongside

HTML_CAP = 4 * 1024 * 1024
"""Bytes of HTML parsed at most."""

TEXT_LIMIT = 1024 * 1024
"""Characters of text collected while parsing, for the text stage: its default budget (`text.TextBudget.max_bytes`)."""

XML_CAP = 32 * 1024 * 1024
"""Bytes of XML (inflated, for svgz) parsed at most."""

MAX_NAMESPACES = 50
CHUNK = 64 * 1024

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_DECLARED = re.compile(rb"""(\xef\xbb\xbf)?<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_SVG = "http://www.w3.org/2000/svg"
_DC = "http://purl.org/dc/elements/1.1/"
_FEEDS = {"", "http://purl.org/rss/1.0/", "http://www.w3.org/2005/Atom"}
_DC_FIELDS = {"title": "title", "creator": "author", "subject": "subject", "language": "language"}
_CSS_PX = {"": 1.0, "px": 1.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4, "pt": 96 / 72, "pc": 16.0}
_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]*)\s*$")


def extract(source: Source) -> Extraction:
    if source.mime_type in {"text/html", "application/xhtml+xml"}:
        return extract_html(source)
    return extract_xml(source)


# --- HTML -----------------------------------------------------------------


class _HeadParser(HTMLParser):
    """The head's metadata and the counts; the page's text is collected alongside for the text stage."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = TextAlongside(TEXT_LIMIT)
        self.title: str | None = None
        self.meta: dict[str, list[str]] = {}
        self.charset: str | None = None
        self.lang: str | None = None
        self.counts = {"link_count": 0, "script_count": 0, "image_count": 0, "stylesheet_count": 0}
        self._in_title = False
        self._title_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)
        self.text.starttag(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)
        self._end(tag)
        self.text.startendtag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self._end(tag)
        self.text.endtag(tag)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k.lower(): (v or "") for k, v in attrs}
        if tag == "html" and self.lang is None:
            self.lang = attr.get("lang") or attr.get("xml:lang")
        elif tag == "title" and self.title is None:
            self._in_title = True
        elif tag == "meta":
            self._meta(attr)
        elif tag == "a" and "href" in attr:
            self.counts["link_count"] += 1
        elif tag == "script":
            self.counts["script_count"] += 1
        elif tag == "img":
            self.counts["image_count"] += 1
        elif tag == "link" and "stylesheet" in attr.get("rel", "").lower():
            self.counts["stylesheet_count"] += 1

    def _end(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = " ".join("".join(self._title_parts).split())

    def handle_data(self, data: str) -> None:
        if self._in_title and len(self._title_parts) < 1000:
            self._title_parts.append(data)
        self.text.data(data)

    def _meta(self, attr: dict[str, str]) -> None:
        if "charset" in attr and not self.charset:
            self.charset = attr["charset"]
        name = (attr.get("name") or attr.get("http-equiv") or attr.get("property") or "").lower().replace(":", ".")
        content = attr.get("content")
        if name and content and len(self.meta) < 200:
            values = self.meta.setdefault(name, [])
            if len(values) < 20:
                values.append(content)
        if name == "content-type" and content and "charset=" in content.lower() and not self.charset:
            self.charset = content.lower().split("charset=", 1)[1].strip(" \"';")


def extract_html(source: Source) -> Extraction:
    source.reader.seek(0)
    data = source.reader.read(HTML_CAP)
    encoding, declared = _html_encoding(data, complete=len(data) >= source.size)
    parser = _HeadParser()
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors="replace")
    fed: list[str] = []
    for start in range(0, len(data), CHUNK):
        fed.append(decoder.decode(data[start : start + CHUNK], final=False))
        parser.feed(fed[-1])
    parser.close()
    if parser._in_title:
        parser._end("title")
    source.reader.parsed[PARSED_TEXT] = CollectedText("".join(fed), TEXT_LIMIT, parser.text.collector.parts)
    partial = len(data) < source.size
    meta = parser.meta

    def first(*names: str) -> str | None:
        for name in names:
            if meta.get(name):
                return "; ".join(meta[name])
        return None

    fields = {
        "title": parser.title or first("title", "dc.title", "og.title"),
        "author": first("author", "dc.creator"),
        "keywords": first("keywords"),
        "subject": first("dc.subject"),
        "language": parser.lang or first("content-language", "dc.language"),
        "creator_tool": first("generator", "ncc.generator"),
        "encoding": encoding.name,
    }
    details: dict[str, Any] = {
        "description": first("description", "dc.description", "og.description"),
        "declared_charset": declared or parser.charset,
        "bom": encoding.bom,
        "counts_partial": partial,
        **parser.counts,
    }
    warnings = [f"html: parsed the first {len(data)} bytes only"] if partial else []
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _html_encoding(data: bytes, complete: bool) -> tuple[Encoding, str | None]:
    """BOM first, then a meta charset in the first 4 KiB, then the shared guess."""
    guess = sniff_encoding(data[:65536], complete=complete)
    if guess.bom:
        return guess, None
    found = _META_CHARSET.search(data[:4096])
    if found:
        declared = found.group(1).decode("ascii", "replace").lower()
        try:
            codec = codecs.lookup(declared).name
        except LookupError:
            return guess, declared
        if codec.startswith("utf-16") and not guess.name.startswith("utf-16"):
            return guess, declared  # a meta tag readable as ASCII cannot be UTF-16
        return Encoding(declared, codec), declared
    return guess, None


# --- XML and SVG ----------------------------------------------------------


class _Refused(Exception):
    """Raised from a handler to stop parsing once enough was seen."""


class _Target:
    """An ElementTree parser target that keeps only what describes the document."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.root_attrs: dict[str, str] = {}
        self.namespaces: dict[str, str] = {}
        self.elements = 0
        self.depth = 0
        self.max_depth = 0
        self.has_script = False
        self.svg_title: str | None = None
        self.dc: dict[str, str] = {}
        self._capture: str | None = None
        self._text: list[str] = []

    def start_ns(self, prefix: str, uri: str) -> None:
        if len(self.namespaces) < MAX_NAMESPACES:
            self.namespaces.setdefault(prefix or "", uri)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.elements += 1
        self.depth += 1
        self.max_depth = max(self.max_depth, self.depth)
        if self.root is None:
            self.root, self.root_attrs = tag, dict(attrs)
        ns, local = _split(tag)
        if local == "script" or any(_split(k)[1].lower().startswith("on") for k in attrs):
            self.has_script = True
        self._capture = None
        if ns == _SVG and local == "title" and self.svg_title is None and self.depth == 2:
            self._capture, self._text = "svg_title", []
        elif local == "title" and ns in _FEEDS and self.depth <= 3 and "feed_title" not in self.dc:
            self._capture, self._text = "feed_title", []
        elif ns == _DC and local in _DC_FIELDS and _DC_FIELDS[local] not in self.dc:
            self._capture, self._text = _DC_FIELDS[local], []

    def data(self, text: str) -> None:
        if self._capture is not None and len(self._text) < 1000:
            self._text.append(text)

    def end(self, tag: str) -> None:
        self.depth -= 1
        if self._capture is not None:
            value = " ".join("".join(self._text).split())
            if self._capture == "svg_title":
                self.svg_title = value
            elif value:
                self.dc[self._capture] = value
            self._capture = None

    def close(self) -> None:
        return None


class _SafeParser(DefusedXMLParser):
    """defusedxml's parser, refusing entities and external references, recording the DOCTYPE."""

    def __init__(self, target: _Target) -> None:
        super().__init__(target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        self.doctype: str | None = None
        self.doctype_public: str | None = None
        self.doctype_system: str | None = None
        self.declared_encoding: str | None = None
        self.xml_version: str | None = None
        self.parser.XmlDeclHandler = self._xml_decl

    def defused_start_doctype_decl(self, name: str, sysid: str | None, pubid: str | None, internal: bool) -> None:
        self.doctype, self.doctype_public, self.doctype_system = name, pubid, sysid

    def _xml_decl(self, version: str | None, encoding: str | None, standalone: int) -> None:
        self.xml_version, self.declared_encoding = version, encoding


def extract_xml(source: Source) -> Extraction:
    stream, compressed = _xml_stream(source)
    head = source.head[:65536] if not compressed else b""
    target = _Target()
    parser = _SafeParser(target)
    warnings: list[str] = []
    details: dict[str, Any] = {"compressed": compressed or None}
    total = 0
    try:
        for chunk in stream:
            if not head:
                head = chunk[:65536]
            total += len(chunk)
            parser.feed(chunk)
        if total < XML_CAP:
            parser.close()
        else:
            details["partial"] = True
            warnings.append(f"xml: parsed the first {total} bytes only")
    except DefusedXmlException as exc:
        details["refused"] = type(exc).__name__
        warnings.append(f"xml: {type(exc).__name__}: parsing stopped before any expansion")
    except ParseError as exc:
        if target.root is None and not parser.doctype:
            raise ExtractionFailed(f"xml: not well-formed ({exc})", code="corrupt") from exc
        details["well_formed"] = False
        warnings.append(f"xml: not well-formed ({exc})")
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        raise ExtractionFailed(f"xml: compressed stream unreadable ({exc})", code="corrupt") from exc
    return _describe_xml(source, parser, target, head, details, warnings)


def _xml_stream(source: Source) -> tuple[Iterator[bytes], bool]:
    source.reader.seek(0)
    if source.head.startswith(b"\x1f\x8b"):
        return _transcoded(_chunks(cast(BinaryIO, gzip.GzipFile(fileobj=source.file, mode="rb")))), True
    return _transcoded(_chunks(source.file)), False


def _transcoded(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Expat reads UTF-8, UTF-16 and single-byte encodings; others are re-encoded as UTF-8."""
    first = next(chunks, b"")
    declared = _DECLARED.match(first)
    codec = _codec(declared.group(2).decode("ascii")) if declared else None
    if declared is None or codec is None or not _needs_transcoding(codec):
        yield first
        yield from chunks
        return
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    start, end = declared.span(2)
    yield first[:start] + b"UTF-8" + decoder.decode(first[end:]).encode()
    for chunk in chunks:
        yield decoder.decode(chunk).encode()


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _needs_transcoding(codec: str) -> bool:
    if codec in {"utf-8", "utf-16", "utf-16-le", "utf-16-be", "ascii", "latin-1", "iso8859-1"}:
        return False
    return len(bytes(range(128, 256)).decode(codec, "replace")) != 128


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    total = 0
    while total < XML_CAP:
        chunk = stream.read(min(CHUNK, XML_CAP - total))
        if not chunk:
            return
        total += len(chunk)
        yield chunk


def _describe_xml(
    source: Source, parser: _SafeParser, target: _Target, head: bytes, details: dict[str, Any], warnings: list[str]
) -> Extraction:
    root = target.root or parser.doctype
    if root is None:
        raise ExtractionFailed("xml: no root element found", code="corrupt")
    ns, local = _split(root)
    encoding = _xml_encoding(head, parser.declared_encoding)
    fields: dict[str, Any] = {
        "encoding": encoding,
        "title": target.dc.get("title") or (target.dc.get("feed_title") if local in {"rss", "RDF", "feed"} else None),
        "author": target.dc.get("author"),
        "subject": target.dc.get("subject"),
        "language": target.dc.get("language") or target.root_attrs.get("{http://www.w3.org/XML/1998/namespace}lang"),
    }
    details.update(
        {
            "root_element": local,
            "root_namespace": ns,
            "namespaces": target.namespaces,
            "doctype": parser.doctype is not None,
            "doctype_name": parser.doctype,
            "doctype_public_id": parser.doctype_public,
            "doctype_system_id": parser.doctype_system,
            "xml_version": parser.xml_version,
            "element_count": target.elements,
            "max_depth": target.max_depth,
        }
    )
    if local == "svg" and (ns in {_SVG, ""}):
        _describe_svg(target, fields, details)
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _describe_svg(target: _Target, fields: dict[str, Any], details: dict[str, Any]) -> None:
    attrs = target.root_attrs
    view_box = attrs.get("viewBox")
    width, height = _px(attrs.get("width")), _px(attrs.get("height"))
    box = _view_box(view_box)
    if box and width is None and height is None:
        width, height = box
    fields.update({"width": width, "height": height, "title": target.svg_title or fields.get("title")})
    details.update(
        {
            "svg_width": attrs.get("width"),
            "svg_height": attrs.get("height"),
            "view_box": view_box,
            "svg_version": attrs.get("version"),
            "has_script": target.has_script,
        }
    )


def _px(value: str | None) -> int | None:
    if not value:
        return None
    found = _LENGTH.match(value)
    if not found or found.group(2) not in _CSS_PX:
        return None
    pixels = round(float(found.group(1)) * _CSS_PX[found.group(2)])
    return pixels if 0 < pixels < 10**7 else None


def _view_box(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        parts = [float(p) for p in value.replace(",", " ").split()]
    except ValueError:
        return None
    if len(parts) != 4 or not (0 < parts[2] < 10**7 and 0 < parts[3] < 10**7):
        return None
    return round(parts[2]), round(parts[3])


def _xml_encoding(head: bytes, declared: str | None) -> str | None:
    if head:
        guess = sniff_encoding(head)
        if guess.bom or guess.name.startswith("utf-16"):
            return guess.name
    found = _DECLARED.match(head)
    if found:
        return found.group(2).decode("ascii").lower()
    if declared:
        return declared.lower()
    return "utf-8" if head else None


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag
