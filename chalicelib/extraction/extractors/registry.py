"""The ordered registry: detected MIME type -> extractor module.

Entries are declared as data so that looking up a family imports nothing;
the module is imported on first use (cold start matters). Order matters only
for wildcard claims (`image/*`): specific entries come first, the fallback last.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from chalicelib.extraction.extensions import ALIASES
from chalicelib.extraction.extractors.base import Extractor


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
    Entry("pdf", "chalicelib.extraction.extractors.pdf", frozenset({"application/pdf"})),
    Entry("tabular", "chalicelib.extraction.extractors.tabular", frozenset({"text/csv", "text/tab-separated-values"})),
    Entry(
        "json",
        "chalicelib.extraction.extractors.jsondoc",
        frozenset({"application/json", "application/x-ndjson", "application/ndjson", "application/jsonl"}),
    ),
    Entry(
        "markup",
        "chalicelib.extraction.extractors.markup",
        frozenset(
            {
                "text/html",
                "application/xhtml+xml",
                "application/xml",
                "text/xml",
                "application/rdf+xml",
                "application/atom+xml",
                "application/rss+xml",
                "image/svg+xml",
            }
        ),
    ),
    Entry(
        "text", "chalicelib.extraction.extractors.text", frozenset({"text/plain", "text/markdown", "text/x-markdown"})
    ),
    Entry(
        "archive",
        "chalicelib.extraction.extractors.archive",
        frozenset(
            {
                "application/zip",
                "application/x-zip-compressed",
                "application/x-tar",
                "application/x-gzip",
                "application/gzip",
                "application/bzip2",
                "application/x-bzip2",
                "application/x-7z-compressed",
                "application/x-rar-compressed",
                "application/vnd.rar",
                "application/zstd",
                "application/x-zstd",
                "application/x-xz",
            }
        ),
    ),
    Entry(
        "office",
        "chalicelib.extraction.extractors.office",
        frozenset(
            {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
                "application/vnd.ms-word.document.macroEnabled.12",
                "application/vnd.ms-word.template.macroEnabled.12",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
                "application/vnd.ms-excel.sheet.macroEnabled.12",
                "application/vnd.ms-excel.template.macroEnabled.12",
                "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
                "application/vnd.openxmlformats-officedocument.presentationml.template",
                "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
                "application/vnd.ms-powerpoint.slideshow.macroEnabled.12",
                "application/vnd.oasis.opendocument.text",
                "application/vnd.oasis.opendocument.text-template",
                "application/vnd.oasis.opendocument.spreadsheet",
                "application/vnd.oasis.opendocument.spreadsheet-template",
                "application/vnd.oasis.opendocument.presentation",
                "application/vnd.oasis.opendocument.presentation-template",
                "application/vnd.oasis.opendocument.graphics",
                "application/vnd.sun.xml.writer",
                "application/vnd.sun.xml.writer.template",
                "application/vnd.sun.xml.writer.global",
                "application/vnd.sun.xml.calc",
                "application/vnd.sun.xml.calc.template",
                "application/vnd.sun.xml.impress",
                "application/vnd.sun.xml.impress.template",
                "application/vnd.sun.xml.draw",
                "application/vnd.sun.xml.draw.template",
            }
        ),
    ),
    Entry(
        "ole",
        "chalicelib.extraction.extractors.ole",
        frozenset(
            {
                "application/msword",
                "application/vnd.ms-excel",
                "application/vnd.ms-powerpoint",
                "application/vnd.ms-outlook",
                "application/x-ole-storage",
                "application/CDFV2",
                "application/encrypted",
            }
        ),
    ),
    Entry("rtf", "chalicelib.extraction.extractors.rtf", frozenset({"text/rtf", "application/rtf"})),
    Entry("epub", "chalicelib.extraction.extractors.epub", frozenset({"application/epub+zip"})),
    Entry("email", "chalicelib.extraction.extractors.email", frozenset({"message/rfc822", "application/mbox"})),
    Entry(
        "image",
        "chalicelib.extraction.extractors.image",
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
                "image/apng",
                "image/x-mpo",
                "image/x-tiff-big",
                "image/x-adobe-dng",
                "application/vnd.adobe.photoshop",
                "image/vnd.adobe.photoshop",
                "image/x-photoshop",
                "image/heic",
                "image/heif",
                "image/heic-sequence",
                "image/heif-sequence",
                "image/avif",
            }
        ),
    ),
    Entry(
        "media",
        "chalicelib.extraction.extractors.media",
        frozenset(
            {
                "audio/mpeg",
                "audio/mp3",
                "audio/flac",
                "audio/x-flac",
                "audio/ogg",
                "audio/opus",
                "audio/vorbis",
                "application/ogg",
                "audio/x-wav",
                "audio/wav",
                "audio/vnd.wave",
                "audio/x-aiff",
                "audio/aiff",
                "audio/mp4",
                "audio/x-m4a",
                "audio/x-m4b",
                "audio/aac",
                "audio/x-hx-aac-adts",
                "audio/x-ms-wma",
                "audio/webm",
                "audio/x-matroska",
                "audio/x-ape",
                "audio/x-wavpack",
                "audio/basic",
                "video/mp2t",
                "video/mp4",
                "video/quicktime",
                "video/x-m4v",
                "video/3gpp",
                "video/3gpp2",
                "video/x-matroska",
                "video/webm",
                "video/x-msvideo",
                "video/avi",
                "video/x-flv",
                "video/x-ms-wmv",
                "video/x-ms-asf",
                "application/vnd.ms-asf",
                "video/ogg",
            }
        ),
    ),
)

FALLBACK = Entry("other", "chalicelib.extraction.extractors.generic", frozenset({"*/*"}))

TYPE_ONLY = frozenset(
    {
        "application/x-empty",
        "application/postscript",
        "application/vnd.visio",
        "application/x-mspublisher",
        "font/woff",
        "font/woff2",
        "image/jp2",
        "image/vnd.fpx",
        "image/x-canon-cr2",
        "image/x-canon-cr3",
    }
)
"""Types detection names on purpose but no extractor reads (yet): family `other`, type and size only.
tests/unit/test_extract_engine.py holds every type detection can return to an extractor or this list."""


def lookup(mime_type: str) -> Entry:
    """The entry for a detected type, under any of its spellings (`extensions.ALIASES` is the one table)."""
    mime_type = ALIASES.get(mime_type, mime_type)
    for entry in REGISTRY:
        if entry.claims(mime_type):
            return entry
    return FALLBACK
