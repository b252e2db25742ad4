"""The ordered registry: detected MIME type -> extractor module.

Entries are declared as data so that looking up a family imports nothing;
the module is imported on first use (cold start matters). Order matters only
for wildcard claims (`image/*`): specific entries come first, the fallback last.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from chalicelib.extractors.base import Extractor


@dataclass(frozen=True)
class Entry:
    family: str
    module: str
    mime_types: frozenset[str]

    def claims(self, mime_type: str) -> bool:
        if mime_type in self.mime_types:
            return True
        major = mime_type.split("/", 1)[0]
        return f"{major}/*" in self.mime_types

    def load(self) -> Extractor:
        module = importlib.import_module(self.module)
        extractor: Extractor = module.extract
        return extractor


REGISTRY: tuple[Entry, ...] = (
    Entry("pdf", "chalicelib.extractors.pdf", frozenset({"application/pdf"})),
    Entry(
        "image",
        "chalicelib.extractors.image",
        frozenset(
            {
                "image/jpeg",
                "image/png",
                "image/gif",
                "image/tiff",
                "image/webp",
                "image/bmp",
                "image/x-ms-bmp",
                "image/vnd.microsoft.icon",
                "image/x-icon",
            }
        ),
    ),
)

FALLBACK = Entry("other", "chalicelib.extractors.generic", frozenset({"*/*"}))


def lookup(mime_type: str) -> Entry:
    for entry in REGISTRY:
        if entry.claims(mime_type):
            return entry
    return FALLBACK
