"""One small real file per extractor family (and per native codec), made in code from the suite's builders.

Used where a test must show that every family is detected and extracted
somewhere else than in the test process (the packaged code, in the
runtime's layout). Each entry: file name -> (bytes, expected family).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable

from tests.support import samples

Builder = Callable[[], bytes]


def _image(fmt: str, **options: object) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(out, fmt, **options)
    return out.getvalue()


def _docx() -> bytes:
    from tests.unit.extractors.test_office import ooxml

    return ooxml("word/document.xml")


def _xlsx() -> bytes:
    from tests.unit.test_rendition import xlsx

    return xlsx([["item", "amount"], ["paper", 12], ["ink", 30]])


def _legacy_doc() -> bytes:
    from tests.unit.extractors.cfb_fixture import build
    from tests.unit.extractors.test_ole import SUMMARY, fib, summary

    return build({"WordDocument": fib(encrypted=False), SUMMARY: summary()})


def _epub() -> bytes:
    from tests.unit.extractors.test_epub import CONTAINER, OPF, book

    return book({"META-INF/container.xml": CONTAINER, "OEBPS/content.opf": OPF})


def _email() -> bytes:
    from tests.unit.extractors.test_email import message

    return message()


def _wav() -> bytes:
    from tests.unit.extractors.test_media import wav

    return wav(seconds=0.5)


def _mp4() -> bytes:
    from tests.unit.extractors.test_media import box, moov

    return box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41") + moov(seconds=3) + box(b"mdat", b"\0" * 64)


def _heic() -> bytes:
    from tests.unit.extractors.test_image import heif

    return heif()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("docs/a.txt", "a" * 500)
        archive.writestr("b.csv", "x,y\n1,2\n")
    return buffer.getvalue()


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        payload = b"z" * 300
        info = tarfile.TarInfo("f.bin")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


SAMPLES: dict[str, tuple[Builder, str]] = {
    "report.pdf": (samples.pdf, "pdf"),
    "rows.csv": (lambda: samples.MESSY_CSV, "tabular"),
    "data.json": (lambda: b'{"name": "docpipe", "items": [1, 2, 3], "nested": {"ok": true}}', "json"),
    "page.html": (
        lambda: b"<!doctype html><html><head><title>Hello</title></head><body><p>Hi</p></body></html>",
        "markup",
    ),
    "drawing.svg": (
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>',
        "markup",
    ),
    "notes.txt": (lambda: "Plain notes, caf\u00e9 and d\u00e9j\u00e0 vu.\nSecond line.\n".encode(), "text"),
    "bundle.zip": (_zip, "archive"),
    "bundle.tar.gz": (_tar, "archive"),
    "letter.docx": (_docx, "office"),
    "budget.xlsx": (_xlsx, "office"),
    "legacy.doc": (_legacy_doc, "ole"),
    "story.rtf": (lambda: rb"{\rtf1\ansi{\info{\title Story}{\author Ada}}Hello \b world\b0.}", "rtf"),
    "book.epub": (_epub, "epub"),
    "mail.eml": (_email, "email"),
    "photo.jpg": (samples.jpeg, "image"),
    "icon.png": (samples.png, "image"),
    "anim.gif": (lambda: _image("GIF"), "image"),
    "scan.tiff": (lambda: _image("TIFF", compression="tiff_lzw"), "image"),
    "web.webp": (lambda: _image("WEBP", quality=80), "image"),
    "phone.heic": (_heic, "image"),
    "voice.wav": (_wav, "media"),
    "clip.mp4": (_mp4, "media"),
    "blob.bin": (lambda: bytes(range(256)) * 8, "other"),
}


def build() -> dict[str, tuple[bytes, str]]:
    return {name: (make(), family) for name, (make, family) in SAMPLES.items()}
