"""Office Open XML (docx/xlsx/pptx and their macro, template and binary kin) and ODF.

Both are ZIP packages whose metadata sits in a few small members: OOXML keeps
it in docProps/core.xml, app.xml and custom.xml (located through
_rels/.rels), ODF in meta.xml. Only the central directory and those members
are read, through zipfile over the seekable reader; libraries such as
python-docx would load whole packages. Every member is read with a size cap
and parsed with defusedxml. A password-protected OOXML file is an OLE
compound file (EncryptionInfo + EncryptedPackage) rather than a ZIP; it is
reported as encrypted, with what the container tells about the scheme.
"""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors.base import Extraction, Source, compact, iso
from chalicelib.extraction.extractors.ole import encryption_scheme, open_ole

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_MEMBER_BYTES = 2 * 1024 * 1024
MAX_ENTRIES = 50_000
MAX_CUSTOM_PROPERTIES = 50
MAX_VALUE_CHARS = 512
MAX_SHEET_NAMES = 200

_REL_CORE = "core-properties"
_REL_APP = ("extended-properties", "extendedProperties")
_REL_CUSTOM = ("custom-properties", "customProperties")
_REL_MAIN = "officeDocument"


def extract(source: Source) -> Extraction:
    if source.head.startswith(OLE_MAGIC):
        return encrypted_ooxml(source)
    package = open_zip(source, "office")
    with package:
        names = {info.filename for info in package.infolist()}
        if "mimetype" in names or "meta.xml" in names:
            return _odf(package, names)
        return _ooxml(package, names)


# --- ZIP helpers (shared with epub) -------------------------------------------------


def open_zip(source: Source, family: str) -> zipfile.ZipFile:
    """The package's central directory, or a `corrupt` failure."""
    try:
        package = zipfile.ZipFile(source.file)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ExtractionFailed(f"{family}: not a readable ZIP package ({exc})", code="corrupt") from exc
    if len(package.infolist()) > MAX_ENTRIES:
        package.close()
        raise ExtractionFailed(f"{family}: more than {MAX_ENTRIES} package members", code="too_large")
    return package


def read_member(package: zipfile.ZipFile, name: str, warnings: list[str], cap: int | None = None) -> bytes | None:
    """A member's bytes, or None (with a warning) when absent, oversized or damaged."""
    cap = cap or MAX_MEMBER_BYTES
    try:
        info = package.getinfo(name)
    except KeyError:
        return None
    if info.file_size > cap:
        warnings.append(f"{name}: {info.file_size} bytes exceeds the {cap}-byte cap; skipped")
        return None
    try:
        with package.open(info) as member:
            data = member.read(cap + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        warnings.append(f"{name}: unreadable ({type(exc).__name__})")
        return None
    if len(data) > cap:
        warnings.append(f"{name}: inflates past the {cap}-byte cap; skipped")
        return None
    return data


def parse_xml(data: bytes | None, name: str, warnings: list[str]) -> Element | None:
    """Parse through defusedxml (no entities, no external references); None with a warning on failure.

    A bare DOCTYPE is allowed: OpenOffice.org 1.x writes one into every meta.xml.
    Entity declarations, the vehicle of expansion bombs, are still refused.
    """
    if data is None:
        return None
    try:
        root: Element = SafeET.fromstring(data)
    except Exception as exc:  # ParseError, DTDForbidden, EntitiesForbidden ...
        warnings.append(f"{name}: XML unreadable ({type(exc).__name__})")
        return None
    return root


def local(tag: Any) -> str:
    """An element's name without its namespace ('{ns}title' -> 'title')."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def children(element: Element | None, name: str) -> list[Element]:
    if element is None:
        return []
    return [child for child in element if local(child.tag) == name]


def child_text(element: Element | None, name: str) -> str | None:
    for child in children(element, name):
        return text_of(child)
    return None


def text_of(element: Element) -> str | None:
    text = "".join(element.itertext()).strip()
    return text[:MAX_VALUE_CHARS] if text else None


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_date(raw: str | None) -> str | None:
    """W3C/ISO dates ('2009-10-24T01:41:00Z', ODF's 9-digit fractions) to ISO 8601 with offset."""
    if not raw:
        return None
    text = _FRACTION.sub(r"\1", raw.strip())
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.year < 1601:  # placeholder dates such as 0001-01-01 or 1601-01-01 mean "unknown"
        return None
    return iso(value)


def to_int(raw: Any) -> int | None:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return None


def positive(raw: Any) -> int | None:
    """A count, absent when unknown; 0 stays a real value only where the caller keeps it."""
    value = to_int(raw)
    return value if value is not None and value >= 0 else None


# --- OOXML --------------------------------------------------------------------------


def _ooxml(package: zipfile.ZipFile, names: set[str]) -> Extraction:
    warnings: list[str] = []
    parts = _ooxml_parts(package, warnings)
    if not parts.get("main") and "[Content_Types].xml" not in names:
        raise ExtractionFailed("office: a ZIP without an Office package structure", code="corrupt")
    core = parse_xml(read_member(package, parts["core"], warnings), parts["core"], warnings)
    app = parse_xml(read_member(package, parts["app"], warnings), parts["app"], warnings)
    custom = parse_xml(read_member(package, parts["custom"], warnings), parts["custom"], warnings)
    fields, details = _core_fields(core)
    app_fields, app_details = _app_fields(app)
    fields.update({k: v for k, v in app_fields.items() if v is not None})
    details.update(app_details)
    details["custom_properties"] = _custom_properties(custom)
    kind = _ooxml_kind(parts.get("main", ""))
    details["document_kind"] = kind
    if kind == "spreadsheet":
        _sheets(package, parts.get("main", ""), app, details, warnings)
        fields["page_count"] = details.get("sheet_count") or fields.get("page_count")
    elif kind == "presentation":
        fields["page_count"] = details.get("slide_count")
    details["macros"] = any(name.lower().endswith("vbaproject.bin") for name in names)
    details["signed"] = any(name.startswith("_xmlsignatures/") for name in names)
    fields["encrypted"] = False
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _ooxml_parts(package: zipfile.ZipFile, warnings: list[str]) -> dict[str, str]:
    parts = {"core": "docProps/core.xml", "app": "docProps/app.xml", "custom": "docProps/custom.xml"}
    rels = parse_xml(read_member(package, "_rels/.rels", warnings), "_rels/.rels", warnings)
    for rel in children(rels, "Relationship"):
        kind = rel.get("Type", "").rsplit("/", 1)[-1]
        target = rel.get("Target", "").lstrip("/")
        if rel.get("TargetMode") == "External" or not target:
            continue
        if kind == _REL_CORE:
            parts["core"] = target
        elif kind in _REL_APP:
            parts["app"] = target
        elif kind in _REL_CUSTOM:
            parts["custom"] = target
        elif kind == _REL_MAIN:
            parts["main"] = target
    return parts


def _ooxml_kind(main: str) -> str | None:
    top = main.split("/", 1)[0].lower()
    return {"word": "document", "xl": "spreadsheet", "ppt": "presentation"}.get(top)


def _core_fields(core: Element | None) -> tuple[dict[str, Any], dict[str, Any]]:
    get = {local(child.tag): text_of(child) for child in (core if core is not None else [])}
    fields = {
        "title": get.get("title"),
        "author": get.get("creator"),
        "subject": get.get("subject"),
        "keywords": get.get("keywords"),
        "language": get.get("language"),
        "created": parse_date(get.get("created")),
        "modified": parse_date(get.get("modified")),
    }
    details = {
        "description": get.get("description"),
        "last_modified_by": get.get("lastModifiedBy"),
        "revision": to_int(get.get("revision")),
        "category": get.get("category"),
        "content_status": get.get("contentStatus"),
        "identifier": get.get("identifier"),
        "last_printed": parse_date(get.get("lastPrinted")),
    }
    return fields, details


def _app_fields(app: Element | None) -> tuple[dict[str, Any], dict[str, Any]]:
    get = {local(child.tag): text_of(child) for child in (app if app is not None else [])}
    application, version = get.get("Application"), get.get("AppVersion")
    tool = application
    if application and version and application.startswith("Microsoft"):
        tool = f"{application} {version}"
    fields = {
        "creator_tool": tool,
        "page_count": positive(get.get("Pages")) or None,
        "word_count": positive(get.get("Words")),
    }
    details = {
        "company": get.get("Company"),
        "manager": get.get("Manager"),
        "template": get.get("Template"),
        "slide_count": positive(get.get("Slides")),
        "hidden_slide_count": positive(get.get("HiddenSlides")),
        "note_count": positive(get.get("Notes")),
        "paragraph_count": positive(get.get("Paragraphs")),
        "line_count": positive(get.get("Lines")),
        "character_count": positive(get.get("Characters")),
        "character_count_with_spaces": positive(get.get("CharactersWithSpaces")),
        "total_edit_minutes": positive(get.get("TotalTime")),
    }
    return fields, details


def _custom_properties(custom: Element | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for prop in children(custom, "property"):
        name = (prop.get("name") or "").strip()[:128]
        value = next((text_of(v) for v in prop), None)
        if name and value is not None:
            out[name] = value
        if len(out) >= MAX_CUSTOM_PROPERTIES:
            break
    return out


def _sheets(
    package: zipfile.ZipFile, main: str, app: Element | None, details: dict[str, Any], warnings: list[str]
) -> None:
    names: list[str] = []
    if main.endswith(".xml"):
        workbook = parse_xml(read_member(package, main, warnings), main, warnings)
        sheets = next(iter(children(workbook, "sheets")), None)
        names = [sheet.get("name", "") for sheet in children(sheets, "sheet")]
    if not names:
        names = _titles_of_parts(app, ("Worksheets", "Arbeitsblätter", "Feuilles de calcul"))
    if names:
        details["sheet_count"] = len(names)
        details["sheet_names"] = [name[:MAX_VALUE_CHARS] for name in names[:MAX_SHEET_NAMES]]


def _titles_of_parts(app: Element | None, headings: tuple[str, ...]) -> list[str]:
    """Names listed in app.xml under a heading (HeadingPairs counts, TitlesOfParts names)."""
    pairs = [text_of(v) or "" for v in _vector(app, "HeadingPairs")]
    titles = [text_of(v) or "" for v in _vector(app, "TitlesOfParts")]
    offset = 0
    for index in range(0, len(pairs) - 1, 2):
        count = to_int(pairs[index + 1]) or 0
        if pairs[index] in headings:
            return titles[offset : offset + count]
        offset += count
    return []


def _vector(app: Element | None, name: str) -> list[Element]:
    for holder in children(app, name):
        for vector in children(holder, "vector"):
            return list(vector)
    return []


# --- ODF ----------------------------------------------------------------------------

_ODF_KINDS = {"text": "document", "spreadsheet": "spreadsheet", "presentation": "presentation", "graphics": "drawing"}
# OpenOffice.org 1.x (.sxw, .sxc, .sxi, .sxd): the same package and meta.xml, older names and namespaces
_ODF_KINDS |= {"writer": "document", "calc": "spreadsheet", "impress": "presentation", "draw": "drawing"}
_DRAW_PAGES = {"{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}page", "{http://openoffice.org/2000/drawing}page"}


def _odf_kind(mimetype: str) -> str | None:
    """`application/vnd.oasis.opendocument.text-template` -> document; `...sun.xml.writer.global` too."""
    parts = mimetype.removeprefix("application/vnd.").replace("-template", "").split(".")
    while parts and parts[-1] in ("template", "global", "master", "web"):
        parts.pop()
    return _ODF_KINDS.get(parts[-1]) if parts else None


def _odf(package: zipfile.ZipFile, names: set[str]) -> Extraction:
    warnings: list[str] = []
    mimetype = (read_member(package, "mimetype", warnings, cap=256) or b"").decode("ascii", "replace").strip()
    manifest = read_member(package, "META-INF/manifest.xml", warnings) or b""
    encrypted = b"encryption-data" in manifest
    details: dict[str, Any] = {
        "document_kind": _odf_kind(mimetype),
        "odf_mime_type": mimetype or None,
        "macros": any(name.startswith(("Basic/", "Scripts/")) for name in names),
        "signed": "META-INF/documentsignatures.xml" in names,
    }
    fields: dict[str, Any] = {"encrypted": encrypted}
    if encrypted:
        warnings.append("odf: the package is encrypted; its metadata cannot be read without the password")
        return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)
    root = parse_xml(read_member(package, "meta.xml", warnings), "meta.xml", warnings)
    meta = next(iter(children(root, "meta")), None)
    more_fields, more_details = _odf_meta(meta)
    fields.update(more_fields)
    details.update(more_details)
    if details["document_kind"] == "spreadsheet":
        fields["page_count"] = details.get("sheet_count")
    elif details["document_kind"] == "document":
        fields["page_count"] = details.pop("page_count_statistic", None)
    elif details["document_kind"] in ("presentation", "drawing"):
        fields["page_count"] = details.pop("page_count_statistic", None) or _odf_pages(package, warnings)
        details["slide_count"] = fields["page_count"] if details["document_kind"] == "presentation" else None
    details.pop("page_count_statistic", None)
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _odf_pages(package: zipfile.ZipFile, warnings: list[str]) -> int | None:
    """Slides (drawing pages) in content.xml, counted while streaming it; None past the member cap.

    Presentation meta.xml states no page count, so the body is read: parsed as
    a stream of start tags through defusedxml (no entities), each page cleared once
    counted, so memory stays flat whatever the deck's size.
    """
    try:
        info = package.getinfo("content.xml")
    except KeyError:
        return None
    if info.file_size > MAX_MEMBER_BYTES:
        warnings.append(
            f"content.xml: {info.file_size} bytes exceeds the {MAX_MEMBER_BYTES}-byte cap; pages not counted"
        )
        return None
    pages = 0
    try:
        with package.open(info) as member:
            for event, element in SafeET.iterparse(member, events=("start", "end")):
                if element.tag in _DRAW_PAGES:
                    pages += event == "start"
                    if event == "end":
                        element.clear()
    except Exception as exc:  # ParseError, DTDForbidden, a damaged member ...
        warnings.append(f"content.xml: pages not counted ({type(exc).__name__})")
        return None
    return pages or None


def _odf_meta(meta: Element | None) -> tuple[dict[str, Any], dict[str, Any]]:
    get: dict[str, str | None] = {}
    keywords: list[str] = []
    for child in meta if meta is not None else []:
        name = local(child.tag)
        if name == "keyword":
            keywords.extend([text_of(child) or ""])
        elif name == "keywords":  # OpenOffice.org 1.x nests them
            keywords.extend(text_of(keyword) or "" for keyword in children(child, "keyword"))
        elif name not in get:
            get[name] = text_of(child)
    stats = next(iter(children(meta, "document-statistic")), None)
    stat = {local(key): value for key, value in (stats.attrib.items() if stats is not None else [])}
    template = next(iter(children(meta, "template")), None)
    fields = {
        "title": get.get("title"),
        "author": get.get("initial-creator") or get.get("creator"),
        "subject": get.get("subject"),
        "keywords": ", ".join(k for k in keywords if k) or None,
        "language": get.get("language"),
        "created": parse_date(get.get("creation-date")),
        "modified": parse_date(get.get("date")),
        "creator_tool": get.get("generator"),
        "word_count": positive(stat.get("word-count")),
    }
    details = {
        "description": get.get("description"),
        "last_modified_by": get.get("creator"),
        "revision": to_int(get.get("editing-cycles")),
        "editing_duration": get.get("editing-duration"),
        "template": _attr(template, "title") or _attr(template, "href"),
        "page_count_statistic": positive(stat.get("page-count")) or None,
        "sheet_count": positive(stat.get("table-count")) or None,
        "paragraph_count": positive(stat.get("paragraph-count")),
        "character_count": positive(stat.get("character-count")),
        "image_count": positive(stat.get("image-count")),
        "object_count": positive(stat.get("object-count")),
        "custom_properties": _odf_user_defined(meta),
    }
    return fields, details


def _attr(element: Element | None, name: str) -> str | None:
    if element is None:
        return None
    for key, value in element.attrib.items():
        if local(key) == name:
            return value[:MAX_VALUE_CHARS]
    return None


def _odf_user_defined(meta: Element | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for prop in children(meta, "user-defined"):
        name = (_attr(prop, "name") or "").strip()[:128]
        value = text_of(prop)
        if name and value is not None:
            out[name] = value
        if len(out) >= MAX_CUSTOM_PROPERTIES:
            break
    return out


# --- Encrypted OOXML (an OLE wrapper) ------------------------------------------------


def encrypted_ooxml(source: Source) -> Extraction:
    """A password-protected OOXML package: report the encryption, not a failure."""
    ole = open_ole(source, "office")
    try:
        if not (ole.exists("EncryptionInfo") and ole.exists("EncryptedPackage")):
            raise ExtractionFailed("office: an OLE file that is not an encrypted Office package", code="unsupported")
        details = {"container": "ole", "encryption": encryption_scheme(ole)}
    finally:
        ole.close()
    warning = "office: the package is encrypted; its metadata cannot be read without the password"
    return Extraction(fields={"encrypted": True}, details=compact(details), warnings=[warning])
