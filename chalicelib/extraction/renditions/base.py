"""What a content module hands back, and the one place its values are escaped.

Content modules read untrusted bytes and return plain data (`Content`: a list
of blocks), never markup. Each block turns itself into HTML here, through
`esc`, which strips control characters and lone surrogates and escapes with
`html.escape(quote=True)`; no block emits a link, and the only `src` is a
`data:` URI of a thumbnail this code encoded itself. Blocks round-trip through
JSON (`to_dict`/`from_dict`) because content is produced in a bounded child
process and rebuilt in the parent. Each block also knows how to shrink
(`smaller`), which the page uses to stay under its size cap.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
IMAGE_TYPES = frozenset({"image/png", "image/jpeg"})
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def clean_text(value: object) -> str:
    """Text safe to put in an HTML document: no control characters, no lone surrogates."""
    text = value if isinstance(value, str) else str(value)
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text)


def esc(value: object) -> str:
    """Escape anything taken from a file (or derived from one) for text or an attribute value."""
    return html.escape(clean_text(value), quote=True)


def cut(text: str, limit: int) -> tuple[str, bool]:
    """At most `limit` characters; the flag says whether anything was dropped."""
    return (text, False) if len(text) <= limit else (text[:limit], True)


@dataclass(frozen=True)
class Budget:
    """How much of a file a rendition may read and show."""

    max_output_bytes: int = 512 * 1024
    read_bytes: int = 1024 * 1024
    excerpt_chars: int = 20_000
    rows: int = 50
    columns: int = 30
    cell_chars: int = 200
    pages: int = 3
    entries: int = 200
    thumbnail_px: int = 256
    thumbnail_bytes: int = 192 * 1024
    picture_bytes: int = 256 * 1024
    """A larger picture's thumbnail comes from its first `picture_bytes` (embedded preview or first image)."""
    max_pixels: int = 400_000_000
    decode_pixels: int = 40_000_000
    xml_bytes: int = 16 * 1024 * 1024
    value_chars: int = 2_000


class Block:
    kind: ClassVar[str]
    heading: str

    def html(self) -> str:
        raise NotImplementedError

    def smaller(self) -> Block | None:
        """A shorter version of this block, or None when it cannot shrink further."""
        return None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["kind"] = self.kind
        return data


def _note(text: str | None) -> str:
    return f'<p class="note">{esc(text)}</p>' if text else ""


def _heading(text: str) -> str:
    return f"<h3>{esc(text)}</h3>" if text else ""


_SHORTENED = "Shortened to keep the page small."


@dataclass(frozen=True)
class Excerpt(Block):
    """The beginning of a text, shown as preformatted text."""

    kind: ClassVar[str] = "excerpt"
    heading: str
    text: str
    note: str | None = None

    def html(self) -> str:
        body = f'<pre class="excerpt">{esc(self.text)}</pre>' if self.text else ""
        return f"<section>{_heading(self.heading)}{body}{_note(self.note)}</section>"

    def smaller(self) -> Excerpt | None:
        if len(self.text) < 64:
            return None
        return replace(self, text=self.text[: len(self.text) // 2], note=_SHORTENED)


@dataclass(frozen=True)
class Table(Block):
    """Rows of cells; the header row, when there is one, is kept apart."""

    kind: ClassVar[str] = "table"
    heading: str
    rows: list[list[str]]
    header: list[str] | None = None
    note: str | None = None

    def html(self) -> str:
        head = ""
        if self.header:
            head = "<thead><tr>" + "".join(f"<th>{esc(cell)}</th>" for cell in self.header) + "</tr></thead>"
        body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in self.rows)
        table = f'<div class="scroll"><table>{head}<tbody>{body}</tbody></table></div>' if head or body else ""
        return f"<section>{_heading(self.heading)}{table}{_note(self.note)}</section>"

    def smaller(self) -> Table | None:
        if not self.rows:
            return None
        return replace(self, rows=self.rows[: len(self.rows) // 2], note=_SHORTENED)


@dataclass(frozen=True)
class Fields(Block):
    """Name/value pairs (metadata, e-mail headers). A value is text, or a nested value shown as a table:
    an object as name/value rows, a list of objects as rows under their names (`nested_html`)."""

    kind: ClassVar[str] = "fields"
    heading: str
    items: list[list[Any]]
    note: str | None = None

    def html(self) -> str:
        rows = "".join(f"<dt>{esc(name)}</dt><dd>{nested_html(value)}</dd>" for name, value in self.items)
        body = f"<dl>{rows}</dl>" if rows else ""
        return f"<section>{_heading(self.heading)}{body}{_note(self.note)}</section>"

    def smaller(self) -> Fields | None:
        if not self.items:
            return None
        return replace(self, items=self.items[: len(self.items) // 2], note=_SHORTENED)


def nested_html(value: Any) -> str:
    """Text escaped; an object as a two-column table; a list of objects as a table with a header row.

    Values are bounded by whoever builds them (rendition._nested); every key and leaf is escaped here.
    """
    if isinstance(value, dict):
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{nested_html(v)}</td></tr>" for k, v in value.items())
        return f'<table class="nested"><tbody>{rows}</tbody></table>'
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        names = list(dict.fromkeys(k for v in value for k in v))
        head = "<thead><tr>" + "".join(f"<th>{esc(n)}</th>" for n in names) + "</tr></thead>"
        body = "".join(
            "<tr>" + "".join(f"<td>{nested_html(v.get(n, ''))}</td>" for n in names) + "</tr>" for v in value
        )
        return f'<table class="nested">{head}<tbody>{body}</tbody></table>'
    if isinstance(value, list):
        return esc(", ".join(str(v) for v in value))
    return esc(value)


@dataclass(frozen=True)
class Items(Block):
    """A bulleted list of short texts (warnings, notes)."""

    kind: ClassVar[str] = "items"
    heading: str
    items: list[str]
    note: str | None = None

    def html(self) -> str:
        rows = "".join(f"<li>{esc(item)}</li>" for item in self.items)
        body = f"<ul>{rows}</ul>" if rows else ""
        return f"<section>{_heading(self.heading)}{body}{_note(self.note)}</section>"

    def smaller(self) -> Items | None:
        if not self.items:
            return None
        return replace(self, items=self.items[: len(self.items) // 2], note=_SHORTENED)


@dataclass(frozen=True)
class Thumbnail(Block):
    """A small image this code re-encoded (PNG or JPEG), embedded as a data: URI."""

    kind: ClassVar[str] = "thumbnail"
    heading: str
    media_type: str
    data: str  # base64
    width: int
    height: int
    note: str | None = None

    def __post_init__(self) -> None:
        if self.media_type not in IMAGE_TYPES or not _BASE64.match(self.data):
            raise ValueError("a thumbnail is PNG or JPEG data in base64")

    @classmethod
    def of(
        cls, heading: str, media_type: str, data: bytes, width: int, height: int, note: str | None = None
    ) -> Thumbnail:
        return cls(heading, media_type, base64.b64encode(data).decode("ascii"), int(width), int(height), note)

    def html(self) -> str:
        image = (
            f'<img class="thumb" alt="Thumbnail" width="{int(self.width)}" height="{int(self.height)}" '
            f'src="data:{esc(self.media_type)};base64,{esc(self.data)}">'
        )
        return f"<section>{_heading(self.heading)}{image}{_note(self.note)}</section>"


BLOCKS: dict[str, type[Block]] = {cls.kind: cls for cls in (Excerpt, Table, Fields, Items, Thumbnail)}


def block_from_dict(data: dict[str, Any]) -> Block:
    values = dict(data)
    cls = BLOCKS[values.pop("kind")]
    block: Block = cls(**values)
    return block


@dataclass
class Content:
    """What a content module found: blocks to show and warnings for the document."""

    blocks: list[Block] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"blocks": [b.to_dict() for b in self.blocks], "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Content:
        return cls([block_from_dict(b) for b in data.get("blocks", [])], [str(w) for w in data.get("warnings", [])])
