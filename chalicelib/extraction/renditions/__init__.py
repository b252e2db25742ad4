"""Content for the HTML rendition, one module per kind of file.

Each module has `content(reader, document, budget) -> Content` and returns
plain data (blocks), never markup; `chalicelib.extraction.rendition` lays it out. The
table below picks the module from the document's family and MIME type and is
data, so that choosing imports nothing; families not listed get a
metadata-only page.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.base import Budget, Content

ContentFn = Callable[[RangedReader, dict[str, Any], Budget], Content]

_BY_FAMILY: dict[str, str] = {
    "text": "text",
    "json": "text",
    "markup": "markup",
    "tabular": "table",
    "pdf": "pdf",
    "image": "image",
    "archive": "archive",
    "email": "email",
}
_XLSX_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
        "application/vnd.ms-excel.sheet.macroEnabled.12",
        "application/vnd.ms-excel.template.macroEnabled.12",
    }
)


def module_for(family: str | None, mime_type: str | None) -> str | None:
    """The content module's import path for a document, or None for a metadata-only page."""
    if mime_type in _XLSX_TYPES:
        return "chalicelib.extraction.renditions.xlsx"
    name = _BY_FAMILY.get(family or "")
    return f"chalicelib.extraction.renditions.{name}" if name else None


def load(module: str) -> ContentFn:
    fn: ContentFn = importlib.import_module(module).content
    return fn
