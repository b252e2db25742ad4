"""EPUB: the package document (OPF) named by META-INF/container.xml.

An EPUB is a ZIP; its Dublin Core metadata and reading order live in one small
XML member. Only the central directory, container.xml and the OPF are read
(with the same size caps and defusedxml parsing as the Office packages).
EPUB 3 refinements are honoured for the title (an "extended" or "main" title
wins) and dcterms:modified gives the modification date.
"""

from __future__ import annotations

import posixpath
from typing import Any
from xml.etree.ElementTree import Element

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors.base import Extraction, Source, compact
from chalicelib.extraction.extractors.office import (
    children,
    local,
    open_zip,
    parse_date,
    parse_xml,
    read_member,
    text_of,
)

CONTAINER = "META-INF/container.xml"
MAX_VALUES = 20


def extract(source: Source) -> Extraction:
    warnings: list[str] = []
    with open_zip(source, "epub") as package:
        names = set(package.namelist())
        container = parse_xml(read_member(package, CONTAINER, warnings), CONTAINER, warnings)
        opf_path = rootfile(container)
        if not opf_path:
            raise ExtractionFailed("epub: META-INF/container.xml names no package document", code="corrupt")
        package_doc = parse_xml(read_member(package, opf_path, warnings), opf_path, warnings)
        if package_doc is None:
            raise ExtractionFailed(f"epub: the package document {opf_path} is missing or unreadable", code="corrupt")
        details: dict[str, Any] = {
            "package_document": opf_path,
            "epub_version": package_doc.get("version"),
            "font_obfuscation_or_drm": "META-INF/encryption.xml" in names,
            "drm_rights": "META-INF/rights.xml" in names,
        }
    return _describe(package_doc, details, warnings)


def rootfile(container: Element | None) -> str | None:
    for rootfiles in children(container, "rootfiles"):
        for rootfile in children(rootfiles, "rootfile"):
            path = (rootfile.get("full-path") or "").lstrip("/")
            if path:
                return posixpath.normpath(path)
    return None


def _describe(package_doc: Element, details: dict[str, Any], warnings: list[str]) -> Extraction:
    metadata = next(iter(children(package_doc, "metadata")), None)
    dc = _dublin_core(metadata)
    refinements = _refinements(metadata)
    creators = [text for _, text in dc.get("creator", [])]
    languages = [text for _, text in dc.get("language", [])]
    subjects = [text for _, text in dc.get("subject", [])]
    fields = {
        "title": _title(dc.get("title", []), refinements),
        "author": "; ".join(creators) or None,
        "subject": ", ".join(subjects) or None,
        "language": languages[0] if languages else None,
        "modified": parse_date(refinements.get(("", "dcterms:modified"))) or _opf2_date(dc, "modification"),
        "created": _opf2_date(dc, "creation"),
    }
    details.update(
        {
            "authors": creators if len(creators) > 1 else None,
            "languages": languages if len(languages) > 1 else None,
            "publisher": _first(dc.get("publisher")),
            "identifier": _identifier(dc.get("identifier", []), package_doc.get("unique-identifier")),
            "published": _first(dc.get("date")),
            "description": _first(dc.get("description")),
            "rights": _first(dc.get("rights")),
            "spine_items": len(children(next(iter(children(package_doc, "spine")), None), "itemref")),
            "manifest_items": len(children(next(iter(children(package_doc, "manifest")), None), "item")),
        }
    )
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _dublin_core(metadata: Element | None) -> dict[str, list[tuple[Element, str]]]:
    """dc:* elements by local name (also inside an OPF 2 dc-metadata wrapper), in document order."""
    out: dict[str, list[tuple[Element, str]]] = {}
    if metadata is None:
        return out
    for element in metadata.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag.startswith("{http://purl.org/dc/elements/1.1/}"):
            text = text_of(element)
            values = out.setdefault(local(tag), [])
            if text and len(values) < MAX_VALUES:
                values.append((element, text))
    return out


def _refinements(metadata: Element | None) -> dict[tuple[str, str], str]:
    """EPUB 3 <meta property=... refines=#id>text</meta>, keyed by (id, property); ('', p) when global."""
    out: dict[tuple[str, str], str] = {}
    for meta in children(metadata, "meta"):
        prop = meta.get("property")
        text = text_of(meta)
        if prop and text:
            out.setdefault(((meta.get("refines") or "").lstrip("#"), prop), text)
    return out


def _title(titles: list[tuple[Element, str]], refinements: dict[tuple[str, str], str]) -> str | None:
    for wanted in ("extended", "main"):
        for element, text in titles:
            if refinements.get((element.get("id") or "", "title-type")) == wanted:
                return text
    return titles[0][1] if titles else None


def _identifier(identifiers: list[tuple[Element, str]], unique: str | None) -> str | None:
    for element, text in identifiers:
        if unique and element.get("id") == unique:
            return text
    return identifiers[0][1] if identifiers else None


def _opf2_date(dc: dict[str, list[tuple[Element, str]]], event: str) -> str | None:
    """OPF 2 marks dates with opf:event="creation" / "modification"."""
    for element, text in dc.get("date", []):
        if any(local(key) == "event" and value == event for key, value in element.attrib.items()):
            return parse_date(text)
    return None


def _first(values: list[tuple[Element, str]] | None) -> str | None:
    return values[0][1] if values else None
