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
    contents: list[bytes], encoding: str = "/WinAnsiEncoding", title: str | None = None, author: str | None = None
) -> bytes:
    """A PDF of one page per content stream, its text in Helvetica as font /F1 with the given /Encoding."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for stream in contents:
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream.decode('cp1252')}\nendstream")
        content = len(objects)
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {len(objects) + 2} 0 R >> >> /Contents {content} 0 R >>"
        )
        kids.append(f"{len(objects)} 0 R")
        objects.append(f"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding {encoding} >>")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    info = "".join(f" /{k} ({_pdf_literal(v)})" for k, v in (("Title", title), ("Author", author)) if v is not None)
    if info:
        objects.append(f"<<{info} >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("cp1252")
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
