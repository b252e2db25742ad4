"""Detection from bytes: containers, media brands, text sniffing, extension checks.

Every fixture is built here; the expected names are ExifTool's MIMEType values.
"""

from __future__ import annotations

import io
import json
import struct
import wave
import zipfile

import pytest
from PIL import Image

from chalicelib.extraction import detect as detection
from chalicelib.extraction.detect import Detection, detect
from chalicelib.extraction.extensions import OOXML, extension_mismatch, extension_of
from chalicelib.extraction.reader import bytes_reader
from tests.support import samples
from tests.unit.extractors import cfb_fixture


def sniff(data: bytes, filename: str = "", head: int = 2048) -> Detection:
    reader = bytes_reader(data)
    return detect(reader.head(head), reader, filename)


def zip_of(members: dict[str, bytes], stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            method = zipfile.ZIP_STORED if stored_first and name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
    return buffer.getvalue()


def content_types(main: str) -> bytes:
    return (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/main.xml" ContentType="{main}"/></Types>'
    ).encode()


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(major: bytes, handlers: list[bytes], compatible: bytes = b"isom") -> bytes:
    ftyp = box(b"ftyp", major + b"\0\0\0\0" + compatible)
    traks = b"".join(box(b"trak", box(b"mdia", box(b"hdlr", b"\0" * 8 + h + b"\0" * 12))) for h in handlers)
    return ftyp + box(b"mdat", b"\0" * 64) + box(b"moov", box(b"mvhd", b"\0" * 100) + traks)


# --- containers -----------------------------------------------------------------------------------

_OOXML_CASES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "docm": "application/vnd.ms-word.document.macroEnabled.main+xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "xlsm": "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "xlsb": "application/vnd.ms-excel.sheet.binary.macroEnabled.main",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    "pptm": "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
    "ppsx": "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
}


@pytest.mark.parametrize("kind", sorted(_OOXML_CASES))
def test_an_ooxml_package_is_named_by_its_main_part_content_type(kind: str) -> None:
    data = zip_of({"[Content_Types].xml": content_types(_OOXML_CASES[kind]), "main.xml": b"<x/>" * 2000})
    assert sniff(data, f"file.{kind}").mime_type == OOXML[kind]


def test_an_ooxml_package_without_content_types_is_named_by_its_parts() -> None:
    data = zip_of({"ppt/presentation.xml": b"<p/>", "ppt/slides/slide1.xml": b"<s/>"})
    assert sniff(data).mime_type == OOXML["pptx"]


def test_an_odf_document_is_named_by_its_stored_mimetype_member() -> None:
    data = zip_of({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"}, True)
    assert sniff(data, "a.odt").mime_type == "application/vnd.oasis.opendocument.text"


def test_an_epub_whose_mimetype_member_is_compressed_is_still_found_through_the_directory() -> None:
    data = zip_of({"mimetype": b"application/epub+zip", "META-INF/container.xml": b"<c/>"})
    assert sniff(data, "book.epub").mime_type == "application/epub+zip"


def test_a_plain_zip_stays_a_zip() -> None:
    assert sniff(zip_of({"notes.txt": b"hello"})).mime_type == "application/zip"


def test_a_truncated_zip_is_still_a_zip() -> None:
    assert sniff(zip_of({"a.txt": b"x" * 5000})[:100]).mime_type == "application/zip"


@pytest.mark.parametrize(
    ("streams", "expected"),
    [
        ({"WordDocument": b"w", "1Table": b"t"}, "application/msword"),
        ({"Workbook": b"w"}, "application/vnd.ms-excel"),
        ({"Book": b"w"}, "application/vnd.ms-excel"),
        ({"PowerPoint Document": b"p", "Current User": b"u"}, "application/vnd.ms-powerpoint"),
        ({"__substg1.0_0037001F": b"s\0u\0b\0", "__properties_version1.0": b"p"}, "application/vnd.ms-outlook"),
        ({"Something": b"x"}, "application/x-ole-storage"),
    ],
)
def test_an_ole2_file_is_named_by_its_streams(streams: dict[str, bytes], expected: str) -> None:
    assert sniff(cfb_fixture.build(streams)).mime_type == expected


def test_an_encrypted_ooxml_package_is_flagged_and_named_by_its_extension() -> None:
    data = cfb_fixture.build({"EncryptionInfo": b"\x04\x00\x04\x00", "EncryptedPackage": b"\0" * 64})
    found = sniff(data, "budget.xlsx")
    assert found.mime_type == OOXML["xlsx"]
    assert found.encrypted is True


# --- media ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("major", "compatible", "expected"),
    [
        (b"heic", b"mif1heic", "image/heic"),
        (b"mif1", b"mif1heic", "image/heif"),
        (b"avif", b"mif1avif", "image/avif"),
        (b"qt  ", b"qt  ", "video/quicktime"),
        (b"M4A ", b"M4A mp42", "audio/mp4"),
    ],
)
def test_an_isobmff_file_is_named_by_its_major_brand(major: bytes, compatible: bytes, expected: str) -> None:
    assert sniff(box(b"ftyp", major + b"\0\0\0\0" + compatible) + b"\0" * 64).mime_type == expected


def test_a_generic_mp4_with_a_video_track_is_video() -> None:
    assert sniff(mp4(b"isom", [b"vide", b"soun"])).mime_type == "video/mp4"


def test_a_generic_mp4_with_only_sound_is_audio_even_when_moov_is_at_the_end() -> None:
    assert sniff(mp4(b"isom", [b"soun"])).mime_type == "audio/mp4"


def test_a_wav_file_is_audio_x_wav() -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 800)
    assert sniff(buffer.getvalue()).mime_type == "audio/x-wav"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"RIFF\x10\0\0\0AVI LIST" + b"\0" * 64, "video/x-msvideo"),
        (b"FORM\0\0\0\x10AIFFCOMM" + b"\0" * 64, "audio/x-aiff"),
        (b"fLaC\0\0\0\x22" + b"\0" * 64, "audio/flac"),
        (b"ID3\x03\0\0\0\0\0\x10" + b"\0" * 16 + b"\xff\xfb\x90\x64" + b"\0" * 64, "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + b"\0" * 400, "audio/mpeg"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\0" * 32, "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska" + b"\0" * 32, "video/x-matroska"),
        (b"FLV\x01\x05\0\0\0\x09" + b"\0" * 32, "video/x-flv"),
        (b"OggS\0\x02" + b"\0" * 20 + b"\x01\x13OpusHead" + b"\0" * 32, "audio/ogg"),
        (b"8BPS\0\x01" + b"\0" * 64, "application/vnd.adobe.photoshop"),
        (b"\x1f\x8b\x08\0" + b"\0" * 32, "application/x-gzip"),
        (b"BZh91AY&SY" + b"\0" * 32, "application/bzip2"),
        (b"7z\xbc\xaf\x27\x1c\0\x04" + b"\0" * 32, "application/x-7z-compressed"),
        (b"Rar!\x1a\x07\x01\0" + b"\0" * 32, "application/x-rar-compressed"),
        (b"\x28\xb5\x2f\xfd" + b"\0" * 32, "application/zstd"),
        (b"{\\rtf1\\ansi hello}", "text/rtf"),
    ],
)
def test_binary_signatures_use_exiftool_names(data: bytes, expected: str) -> None:
    assert sniff(data).mime_type == expected


def test_a_tar_archive_is_found_by_its_ustar_magic() -> None:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"hello"))
    assert sniff(buffer.getvalue()).mime_type == "application/x-tar"


def test_webp_and_gif_and_jpeg_and_pdf_are_recognised() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "WEBP")
    assert sniff(buffer.getvalue()).mime_type == "image/webp"
    buffer = io.BytesIO()
    Image.new("P", (8, 8)).save(buffer, "GIF")
    assert sniff(buffer.getvalue()).mime_type == "image/gif"
    assert sniff(samples.jpeg()).mime_type == "image/jpeg"
    assert sniff(samples.pdf()).mime_type == "application/pdf"


def test_a_png_with_an_animation_control_chunk_is_apng() -> None:
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:])
    assert sniff(buffer.getvalue()).mime_type == "image/apng"
    assert sniff(samples.png()).mime_type == "image/png"


def test_a_tiff_with_a_dng_version_tag_is_dng_and_a_bigtiff_is_named_so() -> None:
    tiff = b"II*\0\x08\0\0\0" + struct.pack("<H", 1) + struct.pack("<HHII", 0xC612, 1, 4, 0x00000401) + b"\0" * 4
    assert sniff(tiff).mime_type == "image/x-adobe-dng"
    plain = b"II*\0\x08\0\0\0" + struct.pack("<H", 1) + struct.pack("<HHII", 256, 3, 1, 8) + b"\0" * 4
    assert sniff(plain).mime_type == "image/tiff"
    assert sniff(b"II+\0\x08\0\0\0\x10\0\0\0\0\0\0\0" + b"\0" * 32).mime_type == "image/x-tiff-big"


# --- text -----------------------------------------------------------------------------------------


def test_csv_with_consistent_columns_is_text_csv_without_any_name() -> None:
    data = b"id,name,price\n" + b"".join(b"%d,item %d,%d.50\n" % (i, i, i) for i in range(50))
    assert sniff(data).mime_type == "text/csv"


def test_semicolon_separated_values_are_csv_and_tabs_are_tsv() -> None:
    assert sniff(b"a;b;c\n1;2;3\n4;5;6\n7;8;9\n").mime_type == "text/csv"
    assert sniff(b"a\tb\tc\n1\t2\t3\n4\t5\t6\n").mime_type == "text/tab-separated-values"


def test_prose_with_commas_is_not_csv() -> None:
    prose = b"Dear reader, this is a letter.\nIt has commas, here and there, in a few lines.\nRegards, me\n"
    assert sniff(prose).mime_type == "text/plain"


def test_a_single_column_file_named_csv_is_csv() -> None:
    assert sniff(b"name\nada\ngrace\n", "names.csv").mime_type == "text/csv"


def test_csv_in_utf16_without_a_bom_is_recognised() -> None:
    data = "a,b\n1,2\n3,4\n5,6\n".encode("utf-16-be")
    found = sniff(data)
    assert (found.mime_type, found.encoding) == ("text/csv", "utf-16be")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_json_with_a_byte_order_mark_is_json(encoding: str) -> None:
    assert sniff(json.dumps({"a": [1, 2, 3]}).encode(encoding)).mime_type == "application/json"


def test_json_bigger_than_the_head_is_json() -> None:
    data = json.dumps([{"id": i, "name": f"row {i}"} for i in range(3000)]).encode()
    assert sniff(data, head=2048).mime_type == "application/json"


def test_ndjson_and_trailing_comma_json_are_json() -> None:
    assert sniff(b'{"a": 1}\n{"a": 2}\n{"a": 3}\n').mime_type == "application/json"
    assert sniff(b'{"a": [1, 2,],\n "b": 3,\n}').mime_type == "application/json"


def test_an_ini_file_is_not_json() -> None:
    assert sniff(b"[section]\nkey=value\nother=thing\n").mime_type == "text/plain"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<!DOCTYPE html><html><body>hi</body></html>", "text/html"),
        (b"<!-- a comment -->\n<html><head><title>x</title></head></html>", "text/html"),
        (b"<script>var a = 1;</script><div>x</div>", "text/html"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>', "image/svg+xml"),
        (b'<?xml version="1.0"?>\n<!DOCTYPE note SYSTEM "note.dtd">\n<note><to>x</to></note>', "application/xml"),
        (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>', "application/rdf+xml"),
        (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', "text/html"),
        (b'<?xml version="1.0"?>\n<h:html xmlns:h="http://www.w3.org/1999/xhtml"><h:body/></h:html>', "text/html"),
        (b'<?xml version="1.0"?>\n<HTML><BODY>an XML vocabulary, not XHTML</BODY></HTML>', "application/xml"),
        (b'<?xml version="1.0"?>\n<html xmlns="urn:example:catalogue"><item/></html>', "application/xml"),
        (b"<HTML><BODY>old-style HTML, case-insensitive</BODY></HTML>", "text/html"),
    ],
)
def test_markup_is_named_by_its_root_element(data: bytes, expected: str) -> None:
    assert sniff(data).mime_type == expected


def test_utf16_svg_is_svg() -> None:
    data = '<?xml version="1.0" encoding="utf-16"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'.encode("utf-16")
    assert sniff(data).mime_type == "image/svg+xml"


def test_an_email_and_an_mbox_are_recognised() -> None:
    mail = b"From: a@example.com\nTo: b@example.com\nSubject: hi\nMessage-ID: <1@x>\n\nbody\n"
    assert sniff(mail).mime_type == "message/rfc822"
    assert sniff(b"From a@example.com Mon Jan  1 00:00:00 2024\n" + mail).mime_type == "application/mbox"


def test_plain_text_in_latin1_is_text_plain() -> None:
    found = sniff("Café crème, à la carte.\nNothing else here.\n".encode("latin-1"))
    assert (found.mime_type, found.encoding) == ("text/plain", "cp1252")


def test_an_empty_file_and_random_bytes_are_not_text() -> None:
    assert sniff(b"").mime_type == "application/x-empty"
    found = sniff(b"\x00\x17\x93binary" + bytes(range(256)) * 8)
    assert not found.mime_type.startswith("text/")
    assert found.encoding is None


# --- names ----------------------------------------------------------------------------------------


def test_extension_of_ignores_hidden_files_and_odd_suffixes() -> None:
    assert extension_of("dir/Report.PDF") == "pdf"
    assert extension_of(".bashrc") is None
    assert extension_of("archive.tar.gz") == "gz"
    assert extension_of("noext") is None


@pytest.mark.parametrize(
    ("mime", "ext", "expected"),
    [
        ("image/jpeg", "jpg", False),
        ("image/jpeg", "jpeg", False),
        ("image/tiff", "tif", False),
        ("text/html", "htm", False),
        ("text/csv", "csv", False),
        ("text/csv", "txt", False),
        (OOXML["docx"], "docx", False),
        (OOXML["docm"], "docm", False),
        ("audio/mp4", "m4a", False),
        ("image/jpeg", "png", True),
        ("application/pdf", "docx", True),
        ("application/zip", "pdf", True),
        ("image/png", "testfile", None),
        ("application/pdf", "bin", None),
        ("application/pdf", None, None),
    ],
)
def test_extension_mismatch_knows_common_synonyms(mime: str, ext: str | None, expected: bool | None) -> None:
    assert extension_mismatch(mime, ext) is expected


def test_a_file_only_libmagic_can_name_is_described_once_and_typed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    mime, description = detection._magic()
    calls: list[str] = []

    class Counted:
        def __init__(self, inner: object, name: str) -> None:
            self.inner, self.name = inner, name

        def from_buffer(self, data: bytes) -> str:
            calls.append(self.name)
            return str(self.inner.from_buffer(data))  # type: ignore[attr-defined]

    monkeypatch.setattr(detection._local, "magic", (Counted(mime, "mime"), Counted(description, "description")))
    found = detect(b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(range(256)) * 4)  # no signature or text rule of ours
    assert found.mime_type == "application/x-java-applet" and found.description
    assert found.description.startswith("compiled Java class data")
    assert sorted(calls) == ["description", "mime"]
