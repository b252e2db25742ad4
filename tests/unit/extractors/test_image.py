"""Image extraction on files built in code: JPEG, PNG/APNG, GIF, TIFF, WebP, BMP, PSD, HEIF/AVIF."""

from __future__ import annotations

import io
import os
import struct
import zlib
from fractions import Fraction
from typing import Any

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import image
from chalicelib.extraction.extractors.base import Extraction, Source
from chalicelib.extraction.reader import bytes_reader


def run(data: bytes, mime_type: str = "image/jpeg") -> Extraction:
    reader = bytes_reader(data)
    source = Source(reader=reader, size=len(data), filename="f", mime_type=mime_type, head=data[:8192])
    return image.extract(source)


def camera_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS 5D"
    exif[0x0112] = orientation
    exif[0x0132] = "2020:01:02 03:04:05"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2019:12:31 23:59:58"
    sub[0x9011] = "+02:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[3] = "N", "W"
    gps[2] = (Fraction(48), Fraction(51), Fraction(2976, 100))
    gps[4] = (Fraction(2), Fraction(17), Fraction(4020, 100))
    return exif


def encode(img: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def frames(count: int, mode: str = "RGB") -> list[Image.Image]:
    return [Image.new(mode, (20, 10), (i * 40 % 255, 0, 0)) for i in range(count)]


def test_a_jpeg_reports_size_camera_time_gps_and_orientation() -> None:
    data = encode(Image.new("RGB", (64, 48)), "JPEG", exif=camera_exif(), dpi=(300, 300))
    out = run(data)
    assert out.fields == {
        "width": 64,
        "height": 48,
        "orientation": 6,
        "camera_make": "Canon",
        "camera_model": "EOS 5D",
        "taken_at": "2019-12-31T23:59:58+02:00",
        "modified": "2020-01-02T03:04:05",
        "gps_latitude": pytest.approx(48.8582667),
        "gps_longitude": pytest.approx(-2.2945),
    }
    assert out.details["format"] == "JPEG"
    assert out.details["dpi"] == [300, 300]
    assert out.details["bit_depth"] == 8
    assert out.details["compression"] == "jpeg"


def test_a_progressive_cmyk_jpeg_reports_its_mode_and_scan_type() -> None:
    out = run(encode(Image.new("CMYK", (8, 8)), "JPEG", progressive=True))
    assert out.details["color_mode"] == "CMYK"
    assert out.details["progressive"] is True


def test_a_png_with_exif_after_the_image_data_reports_its_orientation() -> None:
    data = encode(Image.new("RGB", (30, 20)), "PNG")
    exif = camera_exif(orientation=3).tobytes()[len(b"Exif\x00\x00") :]
    chunk = struct.pack(">I", len(exif)) + b"eXIf" + exif + struct.pack(">I", zlib.crc32(b"eXIf" + exif))
    iend = data.rindex(b"IEND") - 4
    out = run(data[:iend] + chunk + data[iend:], "image/png")
    assert out.fields["orientation"] == 3
    assert out.fields["camera_make"] == "Canon"
    assert out.details["format"] == "PNG"


def test_an_apng_reports_its_frames() -> None:
    first, *rest = frames(3, "RGBA")
    out = run(encode(first, "PNG", save_all=True, append_images=rest), "image/apng")
    assert out.details["format"] == "APNG"
    assert out.details["frames"] == 3
    assert out.details["animated"] is True


def test_an_animated_gif_reports_frames_and_a_bare_gif_header_still_has_a_size() -> None:
    first, *rest = frames(4)
    out = run(encode(first, "GIF", save_all=True, append_images=rest), "image/gif")
    assert (out.fields["width"], out.details["frames"], out.details["animated"]) == (20, 4, True)
    bare = run(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif")
    assert (bare.fields["width"], bare.fields["height"]) == (1, 1)


def test_a_multipage_tiff_reports_pages_compression_and_bit_depth() -> None:
    first = Image.new("I;16", (10, 10))
    data = encode(first, "TIFF", save_all=True, append_images=[first.copy()], compression="tiff_adobe_deflate")
    out = run(data, "image/tiff")
    assert out.details["frames"] == 2
    assert out.details["bit_depth"] == 16
    assert out.details["compression"] == "tiff_adobe_deflate"


def test_a_dng_is_reported_as_such() -> None:
    out = run(encode(Image.new("RGB", (8, 8)), "TIFF", tiffinfo={50706: b"\x01\x04\x00\x00"}), "image/x-adobe-dng")
    assert out.details["format"] == "DNG"


@pytest.mark.parametrize(("options", "compression"), [({"lossless": False}, "lossy"), ({"lossless": True}, "lossless")])
def test_a_webp_reports_size_compression_and_exif(options: dict[str, Any], compression: str) -> None:
    data = encode(Image.new("RGB", (40, 30)), "WEBP", exif=camera_exif(), **options)
    out = run(data, "image/webp")
    assert (out.fields["width"], out.fields["height"]) == (40, 30)
    assert out.fields["camera_model"] == "EOS 5D"
    assert out.details["compression"] == compression


def test_an_animated_webp_counts_its_frames_without_decoding() -> None:
    first, *rest = frames(5)
    out = run(encode(first, "WEBP", save_all=True, append_images=rest, duration=100), "image/webp")
    assert out.details["frames"] == 5
    assert out.details["animated"] is True
    assert out.fields["width"] == 20


def test_a_bmp_reports_its_size() -> None:
    out = run(encode(Image.new("RGB", (7, 5)), "BMP"), "image/bmp")
    assert (out.fields["width"], out.fields["height"], out.details["format"]) == (7, 5, "BMP")


def psd(width: int = 300, height: int = 200, layers: int | None = None) -> bytes:
    resolution = struct.pack(">IHHIHH", 150 << 16, 1, 1, 150 << 16, 1, 1)
    exif = b"MM\x00*" + Image.Exif().tobytes()[4:]
    blocks = b""
    for resource_id, data in ((1005, resolution), (1039, b"icc"), (1058, exif)):
        padded = data + (b"\x00" if len(data) & 1 else b"")
        blocks += b"8BIM" + struct.pack(">HBxI", resource_id, 0, len(data)) + padded
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    layer_info = b"" if layers is None else struct.pack(">h", -layers) + b"\x00" * 40
    section = struct.pack(">I", len(layer_info)) + layer_info if layer_info else b""
    layer_and_mask = struct.pack(">I", len(section)) + section
    return header + struct.pack(">I", 0) + struct.pack(">I", len(blocks)) + blocks + layer_and_mask + b"\x00" * 64


def test_a_psd_reports_size_mode_resolution_and_icc_without_reading_layers() -> None:
    out = run(psd(), "image/vnd.adobe.photoshop")
    assert (out.fields["width"], out.fields["height"]) == (300, 200)
    assert out.details["color_mode"] == "RGB"
    assert out.details["dpi"] == [150, 150]
    assert out.details["icc_profile"] is True
    assert "layer_count" not in out.details  # a flat file: no layer section


def test_a_psd_counts_its_layers_from_the_layer_section_head() -> None:
    assert run(psd(layers=5), "application/vnd.adobe.photoshop").details["layer_count"] == 5


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full(kind: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


def heif(brand: bytes = b"heic", codec: bytes = b"hvc1", rotation: int = 1) -> bytes:
    exif = b"\x00\x00\x00\x06Exif\x00\x00" + camera_exif(orientation=6).tobytes()
    ftyp = box(b"ftyp", brand + b"\x00\x00\x00\x00mif1" + brand)
    infe = full(b"infe", struct.pack(">HH", 1, 0) + codec + b"\x00", version=2)
    infe += full(b"infe", struct.pack(">HH", 2, 0) + b"Exif" + b"\x00", version=2)
    iinf = full(b"iinf", struct.pack(">H", 2) + infe)
    ipco = box(
        b"ipco",
        full(b"ispe", struct.pack(">II", 4032, 3024))
        + box(b"irot", bytes([rotation]))
        + full(b"pixi", bytes([3, 10, 10, 10])),
    )
    ipma = full(b"ipma", struct.pack(">IHB", 1, 1, 3) + bytes([0x81, 0x02, 0x83]))
    iprp = box(b"iprp", ipco + ipma)

    def meta(exif_offset: int) -> bytes:
        iloc = full(
            b"iloc",
            bytes([0x44, 0x00]) + struct.pack(">HHHHIIHHHII", 2, 1, 0, 1, 0, 0, 2, 0, 1, exif_offset, len(exif)),
        )
        return full(
            b"meta",
            full(b"hdlr", b"\x00" * 4 + b"pict" + b"\x00" * 13)
            + full(b"pitm", struct.pack(">H", 1))
            + iinf
            + iloc
            + iprp,
        )

    offset = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(offset) + box(b"mdat", exif + b"\x00" * 256)


def test_a_heic_reports_primary_item_size_rotation_depth_and_exif() -> None:
    out = run(heif(), "image/heic")
    assert (out.fields["width"], out.fields["height"]) == (4032, 3024)
    assert out.fields["orientation"] == 6
    assert out.fields["camera_make"] == "Canon"
    assert out.fields["taken_at"] == "2019-12-31T23:59:58+02:00"
    assert out.fields["gps_latitude"] == pytest.approx(48.8582667)
    assert out.details["rotation"] == 90
    assert out.details["bit_depth"] == 10
    assert out.details["format"] == "HEIF"
    assert out.details["codec"] == "hvc1"


def test_an_avif_is_recognized_by_its_brand() -> None:
    out = run(heif(brand=b"avif", codec=b"av01", rotation=0), "image/avif")
    assert out.details["format"] == "AVIF"
    assert "rotation" not in out.details


def test_a_heif_without_a_meta_box_is_corrupt() -> None:
    with pytest.raises(ExtractionFailed) as caught:
        run(box(b"ftyp", b"heic\x00\x00\x00\x00mif1") + box(b"mdat", b"\x00" * 32), "image/heic")
    assert caught.value.code == "corrupt"


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
        + struct.pack(">I", len(idat))
        + b"IDAT"
        + idat
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    )


@pytest.mark.parametrize(("width", "height"), [(21_000, 20_000), (60_000, 60_000)])
def test_an_image_over_the_pixel_limit_is_too_large(width: int, height: int) -> None:
    with pytest.raises(ExtractionFailed) as caught:
        run(png_header(width, height), "image/png")
    assert caught.value.code == "too_large"


@pytest.mark.parametrize(
    "data", [b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n\x00\x00", b"RIFF\x04\x00\x00\x00WEBP", b"8BPS\x00\x01"]
)
def test_broken_images_fail_as_corrupt(data: bytes) -> None:
    with pytest.raises(ExtractionFailed) as caught:
        run(data, "image/png")
    assert caught.value.code == "corrupt"


def test_damaged_exif_keeps_the_dimensions() -> None:
    data = encode(Image.new("RGB", (16, 16)), "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    out = run(data)
    assert (out.fields["width"], out.fields["height"]) == (16, 16)
    assert "orientation" not in out.fields


XMP = b"""<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:Headline="Harbour at dawn">
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>Ada Lovelace</rdf:li><rdf:li>Charles Babbage</rdf:li></rdf:Seq></dc:creator>
<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">CC BY 4.0</rdf:li></rdf:Alt></dc:rights>
<dc:subject><rdf:Bag><rdf:li>sea</rdf:li><rdf:li>boats</rdf:li></rdf:Bag></dc:subject>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>"""


def exposure_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x013B] = "Grace Hopper"  # Artist
    exif[0x8298] = "(c) 2024 Hopper"  # Copyright
    exif[0x010E] = "A harbour"  # ImageDescription
    exif[0x0131] = "Darktable 4.6"  # Software
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = IFDRational(1, 250)  # ExposureTime
    sub[0x829D] = IFDRational(28, 10)  # FNumber
    sub[0x8827] = 400  # ISO
    sub[0x920A] = IFDRational(35, 1)  # FocalLength
    sub[0xA434] = "EF 35mm f/2"  # LensModel
    sub[0x9209] = 0x19  # fired, auto mode
    return exif


def iptc_segment(records: list[tuple[int, int, bytes]]) -> bytes:
    """A JPEG APP13 segment holding IPTC-IIM datasets in a Photoshop 8BIM 0x0404 resource."""
    iim = b"".join(b"\x1c" + bytes([r, d]) + struct.pack(">H", len(v)) + v for r, d, v in records)
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim + (b"\x00" if len(iim) % 2 else b"")
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def test_a_photo_reports_its_exposure_lens_flash_and_authorship_from_exif() -> None:
    out = run(encode(Image.new("RGB", (32, 24)), "JPEG", exif=exposure_exif()))
    assert {k: out.fields[k] for k in ("exposure_time", "f_number", "iso", "focal_length", "lens_model")} == {
        "exposure_time": 0.004,
        "f_number": 2.8,
        "iso": 400,
        "focal_length": 35.0,
        "lens_model": "EF 35mm f/2",
    }
    assert out.fields["flash"] is True
    assert (out.fields["author"], out.fields["copyright"], out.fields["description"]) == (
        "Grace Hopper",
        "(c) 2024 Hopper",
        "A harbour",
    )
    assert out.fields["creator_tool"] == "Darktable 4.6"


def test_a_photo_without_exif_authorship_takes_the_xmp_dublin_core_and_iptc() -> None:
    data = encode(Image.new("RGB", (32, 24)), "JPEG", xmp=XMP)
    iptc = iptc_segment([(2, 25, b"harbour"), (2, 25, b"dawn"), (2, 116, b"IPTC rights"), (2, 105, b"IPTC headline")])
    out = run(data[:2] + iptc + data[2:])
    assert out.fields["title"] == "Harbour" and out.fields["headline"] == "Harbour at dawn"
    assert out.fields["author"] == "Ada Lovelace; Charles Babbage"
    assert out.fields["copyright"] == "CC BY 4.0"  # XMP comes before IPTC
    assert out.fields["keywords"] == ["sea", "boats"]


def test_iptc_alone_gives_keywords_by_line_and_copyright() -> None:
    data = encode(Image.new("RGB", (16, 16)), "JPEG")
    iptc = iptc_segment([(2, 25, b"harbour"), (2, 25, b"dawn"), (2, 80, b"Ada"), (2, 116, b"(c) Ada")])
    out = run(data[:2] + iptc + data[2:])
    assert (out.fields["keywords"], out.fields["author"], out.fields["copyright"]) == (
        ["harbour", "dawn"],
        "Ada",
        "(c) Ada",
    )


def test_placeholder_exposure_values_are_dropped_not_reported() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x829A] = IFDRational(4294967295, 1)
    out = run(encode(Image.new("RGB", (8, 8)), "JPEG", exif=exif))
    assert "exposure_time" not in out.fields


def test_a_hostile_xmp_packet_is_ignored_not_expanded() -> None:
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&a;</x:xmpmeta>'
    out = run(encode(Image.new("RGB", (8, 8)), "JPEG", xmp=bomb))
    assert "title" not in out.fields and out.fields["width"] == 8


def test_a_jpeg_whose_icc_profile_runs_past_256_kb_is_described_reading_at_most_256_kb() -> None:
    profile = bytes(range(256)) * 1600  # 400 KB, split by Pillow over seven APP2 segments before the frame header
    out = io.BytesIO()
    Image.new("RGB", (425, 250), "teal").save(out, "JPEG", icc_profile=profile, exif=camera_exif(), progressive=True)
    data = out.getvalue()
    reader = bytes_reader(data)
    source = Source(reader=reader, size=len(data), filename="f.jpg", mime_type="image/jpeg", head=data[:8192])
    result = image.extract(source)
    assert len(data) > 400 * 1024 and reader.bytes_fetched <= 256 * 1024
    assert (result.fields["width"], result.fields["height"], result.fields["camera_make"]) == (425, 250, "Canon")
    assert result.details["icc_profile"] is True and result.details["progressive"] is True


def test_a_large_gif_is_described_without_counting_its_frames() -> None:
    noise = [Image.frombytes("P", (300, 300), os.urandom(90_000)) for _ in range(5)]
    data = encode(Image.new("P", (300, 300), 1), "GIF", save_all=True, append_images=noise)
    reader = bytes_reader(data)
    source = Source(reader=reader, size=len(data), filename="f.gif", mime_type="image/gif", head=data[:8192])
    result = image.extract(source)
    assert len(data) > 256 * 1024 and reader.bytes_fetched <= 256 * 1024
    assert result.fields["width"] == 300 and "frames" not in result.details


def test_a_sparse_jpeg_header_keeps_what_pillow_needs_and_gives_up_on_damage() -> None:
    from chalicelib.extraction.extractors.jpeg_header import header_beyond

    out = io.BytesIO()
    Image.new("RGB", (64, 48), "navy").save(out, "JPEG", icc_profile=bytes(4000), exif=camera_exif())
    data = out.getvalue()
    sparse = header_beyond(bytes_reader(data, block_size=512), 1024)
    assert sparse is not None and sparse.icc_profile is True and len(sparse.data) < len(data)
    with Image.open(io.BytesIO(sparse.data)) as img:
        assert img.size == (64, 48) and img.mode == "RGB"
    assert header_beyond(bytes_reader(data, block_size=512), len(data)) is None  # the header ends within
    assert header_beyond(bytes_reader(data[:1500], block_size=512), 1024) is None  # cut before its scan
    assert header_beyond(bytes_reader(b"\xff\xd8" + b"\x00" * 4000, block_size=512), 1024) is None
