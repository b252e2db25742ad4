"""What a file's name claims, and whether its content agrees.

The name never decides a file's type (`detect` reads the bytes); it breaks ties
that bytes cannot (a one-column `.csv`, the format inside an encrypted OOXML
package) and decides `extension_mismatch`. Types are spelled as ExifTool's
MIMEType: libmagic's and Python's `mimetypes` spellings are mapped onto them here.
"""

from __future__ import annotations

import mimetypes

# libmagic spellings -> ExifTool's MIMEType
ALIASES = {
    "image/x-ms-bmp": "image/bmp",
    "image/vnd.microsoft.icon": "image/x-icon",
    "application/x-pdf": "application/pdf",
    "application/gzip": "application/x-gzip",
    "application/x-bzip2": "application/bzip2",
    "application/x-rar": "application/x-rar-compressed",
    "image/vnd.adobe.photoshop": "application/vnd.adobe.photoshop",
    "audio/x-m4a": "audio/mp4",
    "text/xml": "application/xml",
    "application/x-ndjson": "application/json",
    "application/x-ole-storage": "application/x-ole-storage",
    "audio/x-au": "audio/basic",
    "video/MP2T": "video/mp2t",
}

OOXML = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "docm": "application/vnd.ms-word.document.macroEnabled.12",
    "dotx": "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
    "dotm": "application/vnd.ms-word.template.macroEnabled.12",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    "xlsb": "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
    "xltx": "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
    "xltm": "application/vnd.ms-excel.template.macroEnabled.12",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pptm": "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
    "ppsx": "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
    "ppsm": "application/vnd.ms-powerpoint.slideshow.macroEnabled.12",
    "potx": "application/vnd.openxmlformats-officedocument.presentationml.template",
    "potm": "application/vnd.ms-powerpoint.template.macroEnabled.12",
}

# extensions that are right for a type although `mimetypes` does not list them
_EXTRA_EXTENSIONS: dict[str, set[str]] = {
    "image/jpeg": {"jpg", "jpeg", "jpe", "jfif", "mpo", "thm"},
    "image/tiff": {"tif", "tiff"},
    "image/x-tiff-big": {"btf", "tf8", "tif", "tiff"},
    "image/x-adobe-dng": {"dng"},
    "image/png": {"png"},
    "image/apng": {"apng", "png"},
    "image/heic": {"heic", "heif", "hif"},
    "image/heif": {"heif", "heic", "hif"},
    "image/avif": {"avif"},
    "image/x-icon": {"ico", "cur"},
    "image/svg+xml": {"svg"},
    "text/html": {"html", "htm", "xhtml", "shtml"},
    "text/plain": {"txt", "text", "log", "md", "markdown", "rst", "ini", "cfg", "conf", "srt", "asc"},
    "text/csv": {"csv", "txt"},
    "text/tab-separated-values": {"tsv", "tab", "txt"},
    "text/rtf": {"rtf"},
    "application/json": {"json", "ndjson", "jsonl", "geojson", "webmanifest"},
    "application/xml": {"xml", "xsd", "xsl", "xslt", "rss", "atom", "fodt", "fods", "fodp", "kml", "gpx", "plist"},
    "application/rdf+xml": {"rdf", "xmp", "xml", "rss"},
    "audio/mp4": {"m4a", "m4b", "m4p", "mp4", "aac"},
    "video/mp4": {"mp4", "m4v", "m4a"},
    "video/quicktime": {"mov", "qt"},
    "audio/x-wav": {"wav", "wave"},
    "audio/x-aiff": {"aif", "aiff", "aifc"},
    "audio/ogg": {"ogg", "oga", "opus", "spx"},
    "audio/flac": {"flac"},
    "audio/x-ms-wma": {"wma", "asf"},
    "video/x-ms-wmv": {"wmv", "asf"},
    "video/x-matroska": {"mkv", "mka", "mk3d"},
    "video/webm": {"webm"},
    "video/x-flv": {"flv"},
    "video/x-msvideo": {"avi"},
    "audio/basic": {"au", "snd"},
    "video/mp2t": {"ts", "m2ts", "mts", "m2t"},
    "application/x-xz": {"xz", "txz"},
    "application/x-gzip": {"gz", "tgz", "svgz", "gzip"},
    "application/bzip2": {"bz2", "tbz2", "tbz"},
    "application/x-tar": {"tar"},
    "application/x-rar-compressed": {"rar"},
    "application/x-7z-compressed": {"7z"},
    "application/zstd": {"zst"},
    "application/zip": {"zip", "jar", "apk", "kmz", "xpi", "whl"},
    "application/epub+zip": {"epub"},
    "application/vnd.ms-outlook": {"msg"},
    "application/vnd.ms-excel": {"xls", "xlt"},
    "application/msword": {"doc", "dot"},
    "application/vnd.ms-powerpoint": {"ppt", "pps", "pot"},
    "application/vnd.adobe.photoshop": {"psd", "psb"},
    "message/rfc822": {"eml", "mht", "mhtml", "msg", "txt"},
    "application/mbox": {"mbox", "mbx"},
}
for _ext, _mime in OOXML.items():
    _EXTRA_EXTENSIONS.setdefault(_mime, set()).add(_ext)
_ODF = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "odg": "application/vnd.oasis.opendocument.graphics",
    "odf": "application/vnd.oasis.opendocument.formula",
    "ott": "application/vnd.oasis.opendocument.text-template",
    "sxw": "application/vnd.sun.xml.writer",
    "stw": "application/vnd.sun.xml.writer.template",
    "sxg": "application/vnd.sun.xml.writer.global",
    "sxc": "application/vnd.sun.xml.calc",
    "stc": "application/vnd.sun.xml.calc.template",
    "sxi": "application/vnd.sun.xml.impress",
    "sti": "application/vnd.sun.xml.impress.template",
    "sxd": "application/vnd.sun.xml.draw",
    "std": "application/vnd.sun.xml.draw.template",
}
for _ext, _mime in _ODF.items():
    _EXTRA_EXTENSIONS.setdefault(_mime, set()).add(_ext)


def extension_of(filename: str) -> str | None:
    """The lower-case extension of a name, or None (no dot, hidden file, odd characters)."""
    base = filename.rsplit("/", 1)[-1]
    if "." not in base.strip("."):
        return None
    ext = base.rsplit(".", 1)[-1].lower()
    return ext if 0 < len(ext) <= 10 and ext.isalnum() else None


def mime_table() -> mimetypes.MimeTypes:
    """Python's built-in table only: the same answers on every machine, no /etc/mime.types read."""
    table = getattr(mime_table, "table", None)
    if table is None:
        table = mimetypes.MimeTypes(filenames=())
        mime_table.table = table  # type: ignore[attr-defined]
    return table


def _types_for(extension: str) -> set[str]:
    types = {mime for mime, exts in _EXTRA_EXTENSIONS.items() if extension in exts}
    claimed, _ = mime_table().guess_type(f"x.{extension}", strict=False)
    if claimed:
        types.add(ALIASES.get(claimed, claimed))
    return types


def extension_mismatch(mime_type: str, extension: str | None) -> bool | None:
    """True when the name claims a type the content is not; None when unknowable.

    An extension no table knows (".testfile", ".bin", ".dat") claims nothing: None.
    """
    if extension is None:
        return None
    claimed = _types_for(extension)
    if not claimed or extension in ("bin", "dat", "tmp", "data"):
        return None
    if mime_type in claimed:
        return False
    valid = set(_EXTRA_EXTENSIONS.get(mime_type, set()))
    valid.update(e.lstrip(".") for e in mime_table().guess_all_extensions(mime_type, strict=False))
    if extension in valid:
        return False
    # a .txt holding CSV, e-mail or HTML is still text
    return not (mime_type.startswith("text/") and extension in _EXTRA_EXTENSIONS["text/plain"])
