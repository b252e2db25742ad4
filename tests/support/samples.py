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


def text_pdf(pages: list[str]) -> bytes:
    """A PDF whose pages show the given lines (cp1252) in Helvetica (written by hand: pypdf writes no text)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for text in pages:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 712 Td ({escaped}) Tj ET".encode("cp1252")
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream.decode('cp1252')}\nendstream")
        content = len(objects)
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {len(objects) + 2} 0 R >> >> /Contents {content} 0 R >>"
        )
        kids.append(f"{len(objects)} 0 R")
        objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("cp1252")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
