"""EPUB: the text of the book's documents in reading (spine) order."""

from __future__ import annotations

import posixpath
import zipfile
from typing import Any
from urllib.parse import unquote

from defusedxml import ElementTree as SafeET

from chalicelib.extraction.extractors.epub import rootfile
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.markup import html_text
from chalicelib.extraction.text import Sink

MAX_PACKAGE_BYTES = 2 * 1024 * 1024


def text(reader: RangedReader, metadata: dict[str, Any], sink: Sink) -> None:
    with zipfile.ZipFile(reader) as package:
        for name in spine(package)[: sink.budget.max_parts]:
            sink.check()
            try:
                with package.open(name) as member:
                    data = member.read(sink.budget.max_member_bytes)
            except (KeyError, zipfile.BadZipFile, OSError):
                continue
            sink.add(html_text(data.decode("utf-8", "replace"), sink.budget.max_bytes) + "\n\n")


def spine(package: zipfile.ZipFile) -> list[str]:
    """The content documents' member names, in reading order."""
    with package.open("META-INF/container.xml") as handle:
        container = SafeET.fromstring(handle.read(MAX_PACKAGE_BYTES))
    root = rootfile(container)
    if root is None:
        return []
    with package.open(root) as handle:
        opf = SafeET.fromstring(handle.read(MAX_PACKAGE_BYTES))
    base = posixpath.dirname(root)
    manifest = {
        item.get("id"): item.get("href") for item in opf.iter() if item.tag.endswith("}item") and item.get("href")
    }
    order = [ref.get("idref") for ref in opf.iter() if ref.tag.endswith("}itemref")]
    return [
        posixpath.normpath(posixpath.join(base, unquote(str(manifest[i]).split("#")[0])))
        for i in order
        if i in manifest
    ]
