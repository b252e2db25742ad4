"""The HTML rendition of a processed document: a small, inert, self-contained page.

Every document gets one page, stored at `renditions/<id>.html` (outside the
`uploads/` prefix that triggers processing, so writing it cannot start
another run): the file's name, type, normalized metadata, warnings and, where
it is cheap and bounded, a look at the content (a text excerpt, the first
rows of a table, the text of the first pages, a thumbnail, an archive
listing, e-mail headers and body). Content modules live in
`chalicelib.extraction.renditions`; they return data, and everything they return, like
every metadata value, is escaped here on its way into the page.

The page carries no script and loads nothing: its own Content-Security-Policy
meta tag allows inline styles and `data:` images only, and the stricter
`HEADER_CSP` (adding `sandbox` and `frame-ancestors`, which a meta tag cannot
carry) is meant for the response that serves it. Content is read in a sandbox
worker under time and memory limits (the file's extraction session), and the page is
kept under `Budget.max_output_bytes` by shrinking the largest parts.
`render` does not raise for a bad file: what could not be shown becomes a
warning, and the page falls back to the metadata.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.config import Settings
from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import bounds
from chalicelib.extraction.encoding import remembered
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions import load, module_for
from chalicelib.extraction.renditions.base import Block, Budget, Content, Excerpt, Fields, Items, cut, esc
from chalicelib.extraction.sandbox import Session
from chalicelib.extraction.text import Text

CONTENT_TYPE = "text/html; charset=utf-8"
PAGE_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
HEADER_CSP = f"{PAGE_CSP}; frame-ancestors 'self'; sandbox"
CACHE_CONTROL = "private, max-age=300"
MAX_WARNINGS = 50
MAX_WARNING_CHARS = 500
MAX_FILENAME_CHARS = 300

CORE_FIELDS = (
    "mime_type",
    "family",
    "size",
    "sha256",
    "extension",
    "extension_mismatch",
    "title",
    "author",
    "subject",
    "keywords",
    "language",
    "created",
    "modified",
    "creator_tool",
    "producer",
    "page_count",
    "word_count",
    "encrypted",
    "width",
    "height",
    "orientation",
    "camera_make",
    "camera_model",
    "taken_at",
    "gps_latitude",
    "gps_longitude",
    "exposure_time",
    "f_number",
    "iso",
    "focal_length",
    "lens_model",
    "flash",
    "copyright",
    "description",
    "headline",
    "duration_seconds",
    "bitrate",
    "sample_rate",
    "channels",
    "codec",
    "frame_rate",
    "row_count",
    "column_count",
    "columns",
    "delimiter",
    "encoding",
    "has_header",
    "entry_count",
    "uncompressed_size",
    "from",
    "to",
    "cc",
    "sent_at",
    "attachment_count",
)
"""The documented vocabulary, in the order the page lists it (other keys follow alphabetically)."""

CSS = (
    "body{margin:0;background:#f6f7f9;color:#1d2330;font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif}"
    "main{max-width:60rem;margin:0 auto;padding:1.5rem}"
    "h1{font-size:1.4rem;margin:0 0 .25rem;overflow-wrap:anywhere}"
    "h2{font-size:1.1rem;margin:1.5rem 0 .5rem;border-bottom:1px solid #d8dce3}"
    "h3{font-size:1rem;margin:1rem 0 .4rem}"
    ".sub,.note,footer{color:#5b6474}.note{font-size:.9rem}"
    "dl{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.2rem 1rem;margin:0}"
    "dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}"
    "h1,dd,td,th,li,pre{unicode-bidi:isolate}"
    "pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;border:1px solid #d8dce3;padding:.75rem;"
    "max-height:40rem;overflow:auto;font:13px/1.45 ui-monospace,Menlo,Consolas,monospace}"
    ".scroll{overflow:auto;max-height:40rem;border:1px solid #d8dce3;background:#fff}"
    "table{border-collapse:collapse;font-size:.9rem}"
    "th,td{border:1px solid #e3e6eb;padding:.2rem .5rem;text-align:left;vertical-align:top;max-width:24rem;"
    "min-width:4rem;overflow-wrap:anywhere}th{background:#eef0f4;position:sticky;top:0}"
    "table.nested{margin:.1rem 0;font-size:.85rem;background:#fff}table.nested th{position:static;font-weight:600}"
    ".thumb{border:1px solid #d8dce3;background:#fff}"
    "footer{margin-top:2rem;font-size:.85rem}"
)


@dataclass(frozen=True)
class Rendition:
    """The page and how to store and serve it."""

    body: bytes
    content_type: str = CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    """HTTP response headers for serving the page (Content-Type and CSP included)."""
    warnings: list[str] = field(default_factory=list)
    """Why content was left out; to be added to the document's warnings."""
    bytes_read: int = 0

    def put_object_args(self) -> dict[str, Any]:
        """Keyword arguments for S3 `put_object` besides Bucket and Key.

        S3 serves ContentType, CacheControl and ContentDisposition as response
        headers; it cannot serve a Content-Security-Policy header, so the policy
        is kept in the object's metadata (`x-amz-meta-content-security-policy`)
        for whatever serves the page to copy into its response.
        """
        return {
            "Body": self.body,
            "ContentType": self.content_type,
            "CacheControl": CACHE_CONTROL,
            "ContentDisposition": "inline",
            "Metadata": {"content-security-policy": HEADER_CSP, "rendition-version": "1"},
        }


def serving_headers() -> dict[str, str]:
    """Response headers for a rendition, whoever serves it (the preview route, a CDN)."""
    return {
        "Content-Type": CONTENT_TYPE,
        "Content-Security-Policy": HEADER_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": CACHE_CONTROL,
    }


def limits_from_env(env: Mapping[str, str] | None = None) -> bounds.Limits:
    """Time and memory for reading content: DOCPIPE_RENDITION_TIMEOUT (s), DOCPIPE_RENDITION_MEMORY_MB."""
    return bounds.Limits.for_rendition(Settings.from_env(env))


def render(
    document: dict[str, Any],
    reader: RangedReader | None,
    budget: Budget | None = None,
    limits: bounds.Limits | None = None,
    sandbox: bool | None = None,
    session: Session | None = None,
    text: Text | None = None,
) -> Rendition:
    """The page for `document` (its public dict), with content read through `reader` when given.

    Pass the `session` the file was extracted in, so the content is read from
    the same worker's cache, and the document's `text` (`extraction.text`),
    which the page shows where the content module shows none.
    """
    budget = budget or Budget()
    metadata = _metadata(document)
    module = module_for(_str(metadata.get("family")), _str(metadata.get("mime_type")))
    content, warnings, bytes_read = Content(), list[str](), 0
    if reader is not None and module is not None:
        before = reader.bytes_fetched
        content, warnings = _content(module, reader, document, budget, limits, sandbox, session)
        bytes_read = reader.bytes_fetched - before
    if text is not None and not any(isinstance(block, Excerpt) for block in content.blocks):
        content = Content([*content.blocks, _text_block(text, budget)], content.warnings)
    body = page(document, content, warnings, budget)
    return Rendition(body=body, headers=serving_headers(), warnings=warnings, bytes_read=bytes_read)


def _text_block(text: Text, budget: Budget) -> Excerpt:
    shown, cut_off = cut(text.text, budget.excerpt_chars)
    note = f"The first {len(shown):,} characters of the document's text." if cut_off or text.truncated else None
    return Excerpt("Text", shown, note)


def _metadata(document: dict[str, Any]) -> dict[str, Any]:
    value = document.get("metadata")
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _content(
    module: str,
    reader: RangedReader,
    document: dict[str, Any],
    budget: Budget,
    limits: bounds.Limits | None,
    sandbox: bool | None,
    session: Session | None,
) -> tuple[Content, list[str]]:
    """Run the content module, bounded; a failure becomes a warning and no content."""
    family = module.rsplit(".", 1)[-1]
    try:
        if not (bounds.sandbox_enabled() if sandbox is None else sandbox):
            content = read_content(reader, module, document, budget)
        elif session is None:
            with Session(reader) as own:
                return _content(module, reader, document, budget, limits, True, own)
        else:
            payload = session.call(
                content_in_worker, module, document, asdict(budget), limits=limits or limits_from_env()
            )
            content = Content.from_dict(payload)
        return content, list(content.warnings)
    except ExtractionFailed as exc:
        reason = f"{exc.code}: {exc.message}"
    except Exception as exc:  # a parser's own error on hostile bytes: the page still shows the metadata
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
    return Content(), [f"rendition: {family} content left out ({reason})"]


def content_in_worker(
    reader: RangedReader, module: str, document: dict[str, Any], budget: dict[str, Any]
) -> dict[str, Any]:
    """The sandbox job: one content module's blocks for the page, as data."""
    return read_content(reader, module, document, Budget(**budget)).to_dict()


def read_content(reader: RangedReader, module: str, document: dict[str, Any], budget: Budget) -> Content:
    """One content module's blocks, with the file's encoding guesses shared with extraction and text."""
    with remembered(reader.parsed):
        return load(module)(reader, document, budget)


# --- the page ---------------------------------------------------------------


def page(document: dict[str, Any], content: Content, warnings: list[str], budget: Budget) -> bytes:
    """Lay the page out and keep it under `budget.max_output_bytes`."""
    metadata = _metadata(document)
    filename, _ = cut(str(document.get("filename") or document.get("id") or "document"), MAX_FILENAME_CHARS)
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(PAGE_CSP)}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(filename)} · docpipe</title><style>{CSS}</style></head><body><main>"
        f'<header><h1>{esc(filename)}</h1><p class="sub">{esc(_summary(document, metadata))}</p></header>'
    )
    tail = (
        "<footer>A preview made by docpipe. Everything on this page comes from the file or its metadata and is "
        "shown as text: nothing from the file runs or loads.</footer></main></body></html>\n"
    )
    all_warnings = [str(w) for w in (document.get("warnings") or [])] + warnings
    sections: list[tuple[str, list[Block]]] = [
        ("Metadata", [Fields("", _metadata_items(document, metadata, budget))]),
        ("Warnings", [_warnings_block(all_warnings)] if all_warnings else []),
        ("Preview", content.blocks or [_no_preview(document, metadata)]),
        ("Details", [Fields("", _details_items(metadata, budget))] if metadata.get("details") else []),
    ]
    fitted = _fit(sections, budget.max_output_bytes - len((head + tail).encode()))
    body = (head + "".join(fitted) + tail).encode("utf-8")
    if len(body) > budget.max_output_bytes:
        raise ValueError(f"max_output_bytes={budget.max_output_bytes} cannot hold even the page's frame")
    return body


def _fit(sections: list[tuple[str, list[Block]]], room: int) -> list[str]:
    """Each section's HTML, in page order, shrinking blocks (in section order) to stay within `room` bytes."""
    out: list[str] = []
    for title, blocks in sections:
        if not blocks:
            continue
        heading = f"<h2>{esc(title)}</h2>"
        parts = [heading]
        room -= len(heading.encode())
        for block in blocks:
            html = _shrunk(block, room)
            room -= len(html.encode())
            parts.append(html)
        out.append("".join(parts))
    return out


_LEFT_OUT = '<p class="note">Left out to keep the page small.</p>'


def _shrunk(block: Block, room: int) -> str:
    current: Block | None = block
    while current is not None:
        html = current.html()
        if len(html.encode()) <= room:
            return html
        current = current.smaller()
    return _LEFT_OUT if len(_LEFT_OUT) <= room else ""


def _summary(document: dict[str, Any], metadata: dict[str, Any]) -> str:
    parts = [metadata.get("mime_type"), metadata.get("family")]
    size = metadata.get("size")
    if isinstance(size, int) and not isinstance(size, bool):
        parts.append(_human_size(size))
    parts.append(document.get("status"))
    return " · ".join(str(p) for p in parts if p not in (None, ""))


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size:,} bytes"


def _metadata_items(document: dict[str, Any], metadata: dict[str, Any], budget: Budget) -> list[list[Any]]:
    items = [[name, _value(document.get(key), budget)] for name, key in _DOCUMENT_FIELDS if document.get(key)]
    error = document.get("error")
    if isinstance(error, dict):
        items.append(["Error", f"{error.get('code', '')}: {error.get('message', '')}"])
    ordered = [k for k in CORE_FIELDS if k in metadata]
    ordered += sorted(k for k in metadata if k not in CORE_FIELDS and k != "details")
    for key in ordered:
        value = metadata[key]
        if key == "size" and isinstance(value, int) and not isinstance(value, bool):
            items.append([label(key), f"{value:,} bytes ({_human_size(value)})"])
        else:
            items.append([label(str(key)), _value(value, budget)])
    return items


_DOCUMENT_FIELDS = (
    ("Document id", "id"),
    ("Status", "status"),
    ("Uploaded", "created_at"),
    ("Updated", "updated_at"),
)


def _details_items(metadata: dict[str, Any], budget: Budget) -> list[list[Any]]:
    details = metadata.get("details")
    if not isinstance(details, dict):
        return [["Details", _value(details, budget)]]
    return [[label(str(key)), _value(details[key], budget)] for key in sorted(details, key=str)]


_ACRONYMS = frozenset({
    "id", "url", "uri", "gps", "exif", "xmp", "iptc", "iso", "pdf", "csv", "tsv", "html", "xml", "json", "mime",
    "cpu", "api", "utc", "dpi", "icc", "rgb", "cmyk", "ocr", "sha256", "md5", "crc32",
})  # fmt: skip
_SPECIAL_LABELS = {"mime_type": "MIME type", "sha256": "SHA-256", "duplicate_of": "Duplicate of", "s3_key": "S3 key"}
_WORDS = re.compile(r"[_\s-]+")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def label(key: str) -> str:
    """A metadata name as people read it: "page_count" -> "Page count", "gps_latitude" -> "GPS latitude".

    The web app's detail view labels the same names the same way (web/js/format.js `label`).
    """
    if key in _SPECIAL_LABELS:
        return _SPECIAL_LABELS[key]
    words = [w for w in _WORDS.split(_CAMEL.sub(r"\1 \2", key)) if w]
    text = " ".join(w.upper() if w.lower() in _ACRONYMS else w.lower() for w in words)
    return text[:1].upper() + text[1:]


_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def when(text: str) -> str:
    """An ISO 8601 time as "28 Nov 2026, 10:57 UTC" (a time with an offset is shown in UTC; one without
    stays as the file gave it). The page runs no script, so it cannot use the reader's time zone; the web
    app's detail view does. Anything else comes back unchanged."""
    if not _ISO_TIME.match(text):
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    zone = ""
    if moment.tzinfo is not None:
        moment, zone = moment.astimezone(UTC), " UTC"
    return f"{moment.day} {moment:%b %Y, %H:%M}{zone}"


MAX_NESTED_ENTRIES = 50
MAX_NESTED_DEPTH = 3


def _value(value: Any, budget: Budget, depth: int = 0) -> Any:
    """One metadata value for the page: text at most `budget.value_chars` characters, or (objects, lists of
    objects) a nested value of at most MAX_NESTED_ENTRIES entries a level, MAX_NESTED_DEPTH levels deep."""
    if isinstance(value, dict) and value and depth < MAX_NESTED_DEPTH:
        keys = list(value)[:MAX_NESTED_ENTRIES]
        return {_cut(str(k), budget): _value(value[k], budget, depth + 1) for k in keys}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value) and depth < MAX_NESTED_DEPTH:
        return [_value(v, budget, depth + 1) for v in value[:MAX_NESTED_ENTRIES]]
    return _cut(_text(value), budget)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return when(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def _cut(text: str, budget: Budget) -> str:
    shown, cut_off = cut(text, budget.value_chars)
    return shown + "…" if cut_off else shown


def _warnings_block(warnings: list[str]) -> Items:
    shown = [cut(w, MAX_WARNING_CHARS)[0] for w in warnings[:MAX_WARNINGS]]
    note = f"{len(warnings) - MAX_WARNINGS} more not shown." if len(warnings) > MAX_WARNINGS else None
    return Items("", shown, note)


def _no_preview(document: dict[str, Any], metadata: dict[str, Any]) -> Items:
    if module_for(_str(metadata.get("family")), _str(metadata.get("mime_type"))) is None:
        return Items("", [], "No preview for this type of file: the metadata above is what is known.")
    return Items("", [], "No preview could be made: the metadata above is what is known.")
