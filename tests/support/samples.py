"""Small real files made in code: the tests never need the shared corpus."""

from __future__ import annotations

import io


def pdf(pages: int = 2, title: str | None = "Annual report", author: str | None = "Ada Lovelace") -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    meta = {}
    if title is not None:
        meta["/Title"] = title
    if author is not None:
        meta["/Author"] = author
    if meta:
        writer.add_metadata(meta)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def jpeg(width: int = 64, height: int = 48, make: str = "Canon", model: str = "EOS 5D", orientation: int = 6) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.new("RGB", (width, height), "navy").save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(width: int = 32, height: int = 16) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (width, height)).save(out, "PNG")
    return out.getvalue()


MESSY_CSV = (
    "\ufeffname;note;amount\r\n"
    'ann;"two\r\nlines; and a semicolon";150\r\n'
    "bob;too few\r\n"
    'cy;"say ""hi""";3\r\n'
    "\r\n"
    "dee;;4;extra\r\n"
    "eve;;5\r\n"
).encode()
"""BOM, semicolons, a quoted CRLF, a short row, a blank line and a long row: rows 1, 3 and 5 are good."""


def damaged_pdf(objects: int = 800) -> bytes:
    """One page using `objects` fonts, and an xref table whose every offset is wrong: readers must repair it
    (pypdf logs one warning per object it finds out of place)."""
    import io

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    numbers = range(5, objects + 1)
    fonts = b" ".join(b"/F%d %d 0 R" % (n, n) for n in numbers)
    content = b"BT " + b" ".join(b"/F%d 12 Tf (x) Tj" % n for n in numbers) + b" ET"
    bodies = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Resources << /Font << "
        + fonts
        + b" >> >> /Contents 4 0 R >>",
        4: b"<< /Length %d >> stream\n" % len(content) + content + b"\nendstream",
    }
    for n in range(1, objects + 1):
        offsets.append(out.tell())
        body = bodies.get(n, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        out.write(b"%d 0 obj " % n + body + b" endobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (objects + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % (offset + 7))
    out.write(b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (objects + 1, xref))
    return out.getvalue()


def text_pdf(pages: list[str], title: str | None = None, author: str | None = None) -> bytes:
    """A PDF whose pages show the given lines (cp1252) in Helvetica (written by hand: pypdf writes no text),
    with a title and an author in its Info dictionary when given."""
    contents = [f"BT /F1 12 Tf 72 712 Td ({_pdf_literal(text)}) Tj ET".encode("cp1252") for text in pages]
    return content_pdf(contents, title=title, author=author)


def content_pdf(
    contents: list[bytes],
    encoding: str = "/WinAnsiEncoding",
    title: str | None = None,
    author: str | None = None,
    stream_entries: str = "",
) -> bytes:
    """A PDF of one page per content stream, its text in Helvetica as font /F1 with the given /Encoding;
    `stream_entries` go into each content stream's dictionary (e.g. "/Filter /FlateDecode" for compressed ones)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for stream in contents:
        objects.append(b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(stream), stream_entries.encode(), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (len(objects) + 2, content)
        )
        kids.append(f"{len(objects)} 0 R")
        objects.append(f"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding {encoding} >>".encode())
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    info = "".join(f" /{k} ({_pdf_literal(v)})" for k, v in (("Title", title), ("Author", author)) if v is not None)
    if info:
        objects.append(f"<<{info} >>".encode("cp1252"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer_info = f" /Info {len(objects)} 0 R" if info else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{trailer_info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _pdf_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def docx(paragraphs: list[str], title: str = "Project plan", author: str = "Grace Hopper") -> bytes:
    """A Word document as Word writes one: content types, relationships, core properties, paragraphs."""
    import zipfile
    from xml.sax.saxutils import escape

    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r></w:p>' for p in paragraphs)
    members = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document.main+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.'
            'core-properties+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/></Relationships>'
        ),
        "docProps/core.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:title>{escape(title)}</dc:title><dc:creator>{escape(author)}</dc:creator>"
            '<dcterms:created xsi:type="dcterms:W3CDTF">2026-01-05T09:30:00Z</dcterms:created></cp:coreProperties>'
        ),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>"
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def large_photo(width: int = 1200, height: int = 900, thumbnail: bool = True, orientation: int = 6) -> bytes:
    """A noisy JPEG of about 1.5 MB whose EXIF block (made here byte by byte) may embed a 160x120 preview.

    Pillow writes no IFD1, so the TIFF structure is laid out by hand: IFD0
    with the orientation, then IFD1 with JPEGInterchangeFormat/Length, then
    the preview's bytes (a red picture, so a test can tell it from the noise).
    """
    import os
    import struct

    from PIL import Image

    noise = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=95)
    body = out.getvalue()
    if not thumbnail:
        exif = Image.Exif()
        exif[0x0112] = orientation
        blob = exif.tobytes()
        return body[:2] + b"\xff\xe1" + struct.pack(">H", len(blob) + 2) + blob + body[2:]
    small = io.BytesIO()
    Image.new("RGB", (160, 120), "red").save(small, "JPEG")
    preview = small.getvalue()
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, orientation) + struct.pack("<I", 26)
    ifd1_at = 8 + len(ifd0)
    preview_at = ifd1_at + 2 + 2 * 12 + 4
    ifd1 = struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, preview_at)
    ifd1 += struct.pack("<HHII", 0x0202, 4, 1, len(preview)) + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + preview
    segment = b"Exif\x00\x00" + tiff
    return body[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + body[2:]


def large_gif(frames: int = 6, side: int = 300) -> bytes:
    """An animated GIF over 256 KB whose first frame is small (one colour) and whose later frames are noise."""
    import os

    from PIL import Image

    first = Image.new("P", (side, side), 1)
    rest = [Image.frombytes("P", (side, side), os.urandom(side * side)) for _ in range(frames - 1)]
    out = io.BytesIO()
    first.save(out, "GIF", save_all=True, append_images=rest, duration=100, loop=0)
    return out.getvalue()
