"""Audio/video extraction on files built in code: WAV, MP3, MP4/MOV, Matroska/WebM, AVI, FLV."""

from __future__ import annotations

import io
import struct
import wave

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import media
from chalicelib.extraction.extractors.base import Extraction, Source
from chalicelib.extraction.reader import RangedReader, bytes_reader
from tests.support.media import box, full, moov, mp4


def run(data: bytes, mime_type: str, reader: RangedReader | None = None) -> Extraction:
    reader = reader or bytes_reader(data)
    source = Source(reader=reader, size=reader.size, filename="f", mime_type=mime_type, head=reader.head(8192))
    return media.extract(source)


# --- builders ---------------------------------------------------------------------------------


def wav(seconds: float = 2.0, rate: int = 16000, channels: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\x00\x00" * channels * int(rate * seconds))
    return out.getvalue()


def mp3(frames: int = 100, title: str = "Song", artist: str = "Singer") -> bytes:
    from mutagen.id3 import ID3, TCON, TDRC, TIT2, TPE1

    frame = b"\xff\xfb\x90\x00" + b"\x00" * 413  # MPEG-1 layer III, 128 kbps, 44.1 kHz, 417 bytes
    buffer = io.BytesIO(frame * frames)
    tags = ID3()
    tags.add(TIT2(encoding=3, text=title))
    tags.add(TPE1(encoding=3, text=artist))
    tags.add(TDRC(encoding=3, text="2021-05-01"))
    tags.add(TCON(encoding=3, text="(17)"))
    tags.save(buffer)
    return buffer.getvalue()


def ebml(element_id: int, payload: bytes) -> bytes:
    id_bytes = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return id_bytes + (0x0100000000000000 | len(payload)).to_bytes(8, "big") + payload


def uint(element_id: int, value: int, width: int = 4) -> bytes:
    return ebml(element_id, value.to_bytes(width, "big"))


def matroska(doc_type: bytes = b"webm", tracks_first: bool = True) -> bytes:
    header = ebml(0x1A45DFA3, ebml(0x4282, doc_type))
    info = ebml(
        0x1549A966, uint(0x2AD7B1, 1_000_000) + ebml(0x4489, struct.pack(">d", 12_345.0)) + ebml(0x7BA9, b"Clip")
    )
    video = ebml(0xE0, uint(0xB0, 640, 2) + uint(0xBA, 360, 2))
    audio = ebml(0xE1, ebml(0xB5, struct.pack(">f", 48000.0)) + uint(0x9F, 2, 1))
    tracks = ebml(
        0x1654AE6B,
        ebml(0xAE, uint(0x83, 1, 1) + ebml(0x86, b"V_VP9") + uint(0x23E383, 33_333_333) + video)
        + ebml(0xAE, uint(0x83, 2, 1) + ebml(0x86, b"A_OPUS") + audio),
    )
    cluster = ebml(0x1F43B675, b"\x00" * 2048)
    if tracks_first:
        body = info + tracks + cluster
    else:
        # A SeekHead whose fixed-width entries point past the cluster to Info and Tracks.
        def seek_head(info_at: int, tracks_at: int) -> bytes:
            entries = ebml(0x4DBB, ebml(0x53AB, b"\x15\x49\xa9\x66") + uint(0x53AC, info_at, 8))
            entries += ebml(0x4DBB, ebml(0x53AB, b"\x16\x54\xae\x6b") + uint(0x53AC, tracks_at, 8))
            return ebml(0x114D9B74, entries)

        info_at = len(seek_head(0, 0)) + len(cluster)
        body = seek_head(info_at, info_at + len(info)) + cluster + info + tracks
    return header + ebml(0x18538067, body)


def chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")


def riff_list(kind: bytes, payload: bytes) -> bytes:
    return chunk(b"LIST", kind + payload)


def avi(frames: int = 300, fps: int = 30) -> bytes:
    avih = chunk(b"avih", struct.pack("<10I", 1_000_000 // fps, 0, 0, 0, frames, 0, 2, 0, 640, 480) + b"\x00" * 16)
    vids = riff_list(
        b"strl",
        chunk(b"strh", b"vidsXVID" + struct.pack("<IHHIIIII", 0, 0, 0, 0, 1, fps, 0, frames) + b"\x00" * 20)
        + chunk(b"strf", struct.pack("<IiiHH4s", 40, 640, 480, 1, 24, b"XVID") + b"\x00" * 20),
    )
    auds = riff_list(
        b"strl",
        chunk(b"strh", b"auds\x00\x00\x00\x00" + struct.pack("<IHHIIIII", 0, 0, 0, 0, 1, 44100, 0, 0) + b"\x00" * 20)
        + chunk(b"strf", struct.pack("<HHIIHH", 0x55, 2, 44100, 16000, 1, 0)),
    )
    hdrl = riff_list(b"hdrl", avih + vids + auds)
    info = riff_list(b"INFO", chunk(b"INAM", b"Holiday\x00"))
    movi = riff_list(b"movi", b"\x00" * 4096)
    body = b"AVI " + hdrl + info + movi
    return b"RIFF" + struct.pack("<I", len(body)) + body


def amf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def flv() -> bytes:
    props = {"duration": 4.5, "width": 426.0, "height": 240.0, "framerate": 29.97, "videocodecid": 7.0}
    props |= {"audiocodecid": 10.0, "audiosamplerate": 44100.0, "audiodatarate": 128.0, "videodatarate": 500.0}
    body = b"".join(amf_string(k) + b"\x00" + struct.pack(">d", v) for k, v in props.items())
    body += amf_string("stereo") + b"\x01\x01"
    script = b"\x02" + amf_string("onMetaData") + b"\x08" + struct.pack(">I", len(props) + 1) + body + b"\x00\x00\x09"
    tag = bytes([18]) + len(script).to_bytes(3, "big") + b"\x00" * 7 + script + struct.pack(">I", 11 + len(script))
    audio = bytes([8]) + (1).to_bytes(3, "big") + b"\x00" * 7 + bytes([0xAF]) + struct.pack(">I", 12)
    video = bytes([9]) + (1).to_bytes(3, "big") + b"\x00" * 7 + bytes([0x17]) + struct.pack(">I", 12)
    return b"FLV\x01\x05" + struct.pack(">I", 9) + b"\x00\x00\x00\x00" + tag + audio + video


# --- tests -----------------------------------------------------------------------------------


def test_a_wav_reports_duration_sample_rate_channels_and_pcm() -> None:
    out = run(wav(seconds=2.0, rate=16000, channels=2), "audio/x-wav")
    assert out.fields["duration_seconds"] == 2.0
    assert out.fields["sample_rate"] == 16000
    assert out.fields["channels"] == 2
    assert out.fields["codec"] == "pcm"
    assert out.fields["bitrate"] == 16000 * 2 * 16
    assert out.details["container"] == "wav"
    assert out.details["bits_per_sample"] == 16


def test_an_mp3_reports_its_stream_and_normalizes_id3_tags() -> None:
    out = run(mp3(frames=100), "audio/mpeg")
    assert out.fields["codec"] == "mp3"
    assert out.fields["bitrate"] == 128000
    assert out.fields["sample_rate"] == 44100
    assert out.fields["duration_seconds"] == pytest.approx(100 * 1152 / 44100, abs=0.05)
    assert out.fields["title"] == "Song"
    assert out.fields["author"] == "Singer"
    assert out.details["tags"] == {"title": "Song", "artist": "Singer", "year": "2021", "genre": "Rock"}


def test_an_mp4_reports_video_size_frame_rate_codecs_and_audio() -> None:
    out = run(mp4(width=1920, height=1080, fps=25, seconds=10), "video/mp4")
    fields = out.fields
    assert (fields["width"], fields["height"]) == (1920, 1080)
    assert fields["frame_rate"] == 25.0
    assert fields["duration_seconds"] == 10.0
    assert fields["codec"] == "h264"
    assert fields["sample_rate"] == 48000
    assert fields["channels"] == 2
    assert fields["created"].startswith("2021-")
    assert out.details["audio_codec"] == "aac"
    assert out.details["video_tracks"] == 1
    assert out.details["audio_tracks"] == 1
    assert out.details["container"] == "mp4"
    assert out.details["rotation"] == 0


def test_a_quicktime_movie_reports_its_rotation_and_container() -> None:
    out = run(mp4(brand=b"qt  ", rotate=True), "video/quicktime")
    assert out.details["container"] == "quicktime"
    assert out.details["rotation"] == 90


def test_a_500_mb_mp4_with_moov_at_the_end_costs_kilobytes_of_reads() -> None:
    head = box(b"ftyp", b"isom\x00\x00\x02\x00isommp41")
    mdat_size = 500 * 1024 * 1024
    mdat_header = struct.pack(">I4s", mdat_size, b"mdat")
    tail = moov(seconds=600)
    prefix = head + mdat_header
    size = len(prefix) + (mdat_size - 8) + len(tail)
    tail_start = size - len(tail)

    def fetch(start: int, end: int) -> bytes:
        out = bytearray(end - start + 1)
        for offset, data in ((0, prefix), (tail_start, tail)):
            lo, hi = max(start, offset), min(end + 1, offset + len(data))
            if lo < hi:
                out[lo - start : hi - start] = data[lo - offset : hi - offset]
        return bytes(out)

    reader = RangedReader(fetch, size)
    out = run(b"", "video/mp4", reader=reader)
    assert out.fields["duration_seconds"] == 600.0
    assert out.fields["width"] == 1920
    assert reader.bytes_fetched <= 256 * 1024, reader.bytes_fetched


def test_a_webm_reports_duration_tracks_and_frame_rate() -> None:
    out = run(matroska(), "video/webm")
    assert out.fields["duration_seconds"] == 12.345
    assert (out.fields["width"], out.fields["height"]) == (640, 360)
    assert out.fields["frame_rate"] == 30.0
    assert out.fields["codec"] == "vp9"
    assert out.fields["sample_rate"] == 48000
    assert out.fields["channels"] == 2
    assert out.fields["title"] == "Clip"
    assert out.details["container"] == "webm"
    assert out.details["audio_codec"] == "opus"


def test_a_matroska_file_with_headers_after_the_clusters_is_found_through_the_seek_head() -> None:
    out = run(matroska(doc_type=b"matroska", tracks_first=False), "video/x-matroska")
    assert out.fields["duration_seconds"] == 12.345
    assert out.fields["width"] == 640
    assert out.details["container"] == "matroska"


def test_an_avi_reports_size_frame_rate_duration_and_codecs() -> None:
    out = run(avi(frames=300, fps=30), "video/x-msvideo")
    assert (out.fields["width"], out.fields["height"]) == (640, 480)
    assert out.fields["frame_rate"] == 30.0
    assert out.fields["duration_seconds"] == 10.0
    assert out.fields["codec"] == "mpeg4"
    assert out.fields["sample_rate"] == 44100
    assert out.fields["title"] == "Holiday"
    assert out.details["audio_codec"] == "mp3"


def test_an_flv_reports_its_onmetadata() -> None:
    out = run(flv(), "video/x-flv")
    assert out.fields["duration_seconds"] == 4.5
    assert (out.fields["width"], out.fields["height"]) == (426, 240)
    assert out.fields["frame_rate"] == 29.97
    assert out.fields["codec"] == "h264"
    assert out.fields["bitrate"] == 628000
    assert out.fields["channels"] == 2
    assert out.details["audio_codec"] == "aac"


def test_an_mp4_without_a_movie_header_is_corrupt() -> None:
    data = box(b"ftyp", b"isom\x00\x00\x02\x00isom") + box(b"mdat", b"\x00" * 100)
    with pytest.raises(ExtractionFailed) as caught:
        run(data, "video/mp4")
    assert caught.value.code == "corrupt"


@pytest.mark.parametrize("data", [b"", b"\x00" * 10, b"ID3\x04\x00\x00\x00\x00\x00\x05ab", b"fLaC\x00\x00\x00\x22"])
def test_unreadable_audio_fails_as_corrupt(data: bytes) -> None:
    with pytest.raises(ExtractionFailed) as caught:
        run(data, "audio/mpeg")
    assert caught.value.code == "corrupt"


def test_a_truncated_mp3_keeps_what_its_frames_say() -> None:
    data = mp3(frames=100)
    out = run(data[: len(data) // 2], "audio/mpeg")
    assert out.fields["sample_rate"] == 44100
    assert out.fields["title"] == "Song"


def test_a_box_with_an_impossible_size_ends_the_walk_without_hanging() -> None:
    data = box(b"ftyp", b"isom\x00\x00\x02\x00") + struct.pack(">I4s", 3, b"moov") + b"\x00" * 64
    with pytest.raises(ExtractionFailed):
        run(data, "video/mp4")


def test_a_quicktime_location_becomes_gps_coordinates() -> None:
    data = mp4(brand=b"qt  ")
    xyz = box(b"\xa9xyz", struct.pack(">HH", 18, 0x15C7) + b"+48.8583+002.2945/")
    moov_at = data.index(b"moov") - 4
    old_moov = data[moov_at:]
    new_moov = box(b"moov", old_moov[8:] + box(b"udta", xyz))
    out = run(data[:moov_at] + new_moov, "video/quicktime")
    assert out.fields["gps_latitude"] == 48.8583
    assert out.fields["gps_longitude"] == 2.2945


def adts(frames: int = 50, length: int = 200, rate_index: int = 4, channels: int = 2) -> bytes:
    """Raw AAC: ADTS frames (MPEG-4 AAC LC, no CRC) with silent payloads, as an .aac file holds them."""
    out = bytearray()
    for _ in range(frames):
        header = bytes(
            [
                0xFF,
                0xF1,
                (1 << 6) | (rate_index << 2) | (channels >> 2),
                ((channels & 3) << 6) | ((length >> 11) & 3),
                (length >> 3) & 0xFF,
                ((length & 7) << 5) | 0x1F,
                0xFC,
            ]
        )
        out += header + bytes(length - len(header))
    return bytes(out)


def test_raw_aac_without_a_file_name_is_read_not_failed_as_corrupt() -> None:
    out = run(adts(), "audio/x-hx-aac-adts")
    assert (out.fields["sample_rate"], out.fields["channels"], out.fields["codec"]) == (44100, 2, "aac")
    assert out.fields["duration_seconds"] == pytest.approx(50 * 1024 / 44100, rel=0.01)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def test_a_wav_reports_its_riff_info_tags() -> None:
    riff = wav(seconds=1.0, rate=8000, channels=1)
    info = b"INFO" + b"".join(
        _chunk(key, value + b"\x00")
        for key, value in (
            (b"INAM", b"Field recording"),
            (b"IART", b"Ren\xe9e"),
            (b"ICMT", b"dawn"),
            (b"ICRD", b"2021"),
        )
    )
    body = riff[12:] + _chunk(b"LIST", info)
    data = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body
    out = run(data, "audio/x-wav")
    assert (out.fields["title"], out.fields["author"]) == ("Field recording", "Renée")
    assert out.details["tags"]["comment"] == "dawn" and out.details["tags"]["year"] == "2021"
    assert out.fields["duration_seconds"] == 1.0


def _asf_object(guid: str, body: bytes) -> bytes:
    import uuid

    return uuid.UUID(guid).bytes_le + struct.pack("<Q", 24 + len(body)) + body


def _asf_stream(kind: str, number: int, specific: bytes) -> bytes:
    import uuid

    body = uuid.UUID(kind).bytes_le + b"\x00" * 16 + struct.pack("<QIIHI", 0, len(specific), 0, number, 0)
    return _asf_object("B7DC0791-A9B7-11CF-8EE6-00C00C205365", body + specific)


def wmv(seconds: float = 12.5, preroll_ms: int = 3100, declared_size: int = 1_000_000) -> bytes:
    """An ASF header as Windows Media writers lay it out: video stream 1, audio stream 2, packets after it."""
    created = (1_600_000_000 + 11_644_473_600) * 10_000_000  # 2020-09-13T12:26:40Z as FILETIME
    play = int((seconds + preroll_ms / 1000) * 1e7)
    file_properties = _asf_object(
        "8CABDCA1-A947-11CF-8EE4-00C00C205365",
        b"\x00" * 16
        + struct.pack(
            "<QQQQQQIIII", declared_size, created, 100, play, play, preroll_ms, 2, 3200, 3200, 5_000_000_000 % 2**32
        ),
    )
    bitmap = struct.pack("<IiiHH4s", 40, 640, 360, 1, 24, b"WMV3") + b"\x00" * 20
    video = _asf_stream("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B", 1, struct.pack("<IIBH", 640, 360, 2, 40) + bitmap)
    audio = _asf_stream(
        "F8699E40-5B4D-11CF-A8FD-00805F5C442B", 2, struct.pack("<HHIIHHH", 0x161, 2, 44100, 16000, 2972, 16, 0)
    )
    frame_time = struct.pack("<QQIIIIIIII", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) + struct.pack("<HHQHH", 1, 0, 400_000, 0, 0)
    extension = _asf_object(
        "5FBF03B5-A92E-11CF-8EE3-00C00C205365",
        b"\x00" * 16
        + b"\x06\x00"
        + struct.pack("<I", 24 + len(frame_time))
        + _asf_object("14E6A5CB-C672-4332-8399-A96952065B5A", frame_time),
    )
    bitrates = _asf_object("7BF875CE-468D-11D1-8D82-006097C9A2B2", struct.pack("<HHIHI", 2, 1, 900_000, 2, 128_000))
    strings = [s.encode("utf-16-le") + b"\x00\x00" for s in ("Harbour", "Ana", "(c) 2020 Ana", "", "")]
    description = _asf_object(
        "75B22633-668E-11CF-A6D9-00AA0062CE6C", struct.pack("<5H", *map(len, strings)) + b"".join(strings)
    )
    objects = [file_properties, extension, video, audio, bitrates, description]
    body = b"".join(objects)
    import uuid

    header = uuid.UUID("75B22630-668E-11CF-A6D9-00AA0062CE6C").bytes_le
    header += struct.pack("<QIBB", 30 + len(body), len(objects), 1, 2) + body
    data_object = uuid.UUID("75B22636-668E-11CF-A6D9-00AA0062CE6C").bytes_le + struct.pack("<Q", 50 + 3200 * 4)
    return header + data_object + b"\x00" * (26 + 3200 * 4)


def test_a_wmv_reports_its_video_and_audio_streams_from_the_asf_header() -> None:
    out = run(wmv(), "video/x-ms-wmv")
    assert out.fields["duration_seconds"] == 12.5  # play duration minus preroll
    assert (out.fields["codec"], out.fields["width"], out.fields["height"]) == ("wmv3", 640, 360)
    assert out.fields["frame_rate"] == 25.0
    assert (out.fields["sample_rate"], out.fields["channels"]) == (44100, 2)
    assert out.fields["bitrate"] == 1_028_000  # the streams' own bitrates, not the header's absurd maximum
    assert (out.fields["title"], out.fields["copyright"]) == ("Harbour", "(c) 2020 Ana")
    assert out.fields["created"] == "2020-09-13T12:26:40Z"
    assert (out.details["video_codec"], out.details["audio_codec"]) == ("wmv3", "wmav2")
    assert (out.details["video_tracks"], out.details["audio_tracks"]) == (1, 1)


def test_a_wmv_cut_short_keeps_the_duration_its_header_states() -> None:
    data = wmv()
    out = run(data[: len(data) // 3], "video/x-ms-wmv")
    assert out.fields["duration_seconds"] == 12.5
    assert (out.fields["width"], out.fields["height"], out.fields["sample_rate"]) == (640, 360, 44100)
    assert any("cut short" in warning for warning in out.warnings)


def test_an_asf_header_larger_than_the_file_still_gives_what_was_read() -> None:
    data = wmv()
    out = run(data[:200], "video/x-ms-wmv")
    assert out.fields["duration_seconds"] == 12.5
    assert any("header object cut short" in warning for warning in out.warnings)


def ogg_page(serial: int, payload: bytes, granule: int = 0, first: bool = False, sequence: int = 0) -> bytes:
    segments = [255] * (len(payload) // 255) + [len(payload) % 255]
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, 2 if first else 0, granule, serial, sequence, 0, len(segments))
    return header + bytes(segments) + payload


def theora(width: int = 352, height: int = 288, fps: tuple[int, int] = (30000, 1001), seconds: int = 4) -> bytes:
    """An Ogg file holding Theora video and Vorbis audio: both identification headers, a data page, the last pages."""
    shift = 6
    ident = b"\x80theora\x03\x02\x01" + struct.pack(">HH", (width + 15) // 16, (height + 15) // 16)
    ident += width.to_bytes(3, "big") + height.to_bytes(3, "big") + b"\x00\x00" + struct.pack(">II", *fps)
    ident += b"\x00\x00\x01\x00\x00\x01\x00" + (0).to_bytes(3, "big") + struct.pack(">H", (38 << 10) | (shift << 5))
    vorbis = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, 44100, 0, 128000, 0, 0xB8, 1)
    frames = round(seconds * fps[0] / fps[1])
    key = frames - 10  # the last key frame, and ten frames after it
    return (
        ogg_page(7, ident, first=True)
        + ogg_page(9, vorbis, first=True)
        + ogg_page(7, b"\x81theora" + b"\x00" * 300, sequence=1)
        + ogg_page(7, b"\x00" * 40_000, sequence=2)
        + ogg_page(9, b"\x00" * 400, granule=(seconds - 1) * 44100, sequence=1)
        + ogg_page(7, b"\x00" * 500, granule=(key << shift) + 10, sequence=3)
    )


def test_an_ogg_theora_file_is_video_with_size_frame_rate_duration_and_its_audio_stream() -> None:
    out = run(theora(), "video/ogg")
    assert (out.fields["codec"], out.fields["width"], out.fields["height"]) == ("theora", 352, 288)
    assert out.fields["frame_rate"] == 29.97
    assert out.fields["duration_seconds"] == pytest.approx(4.0, abs=0.01)
    assert (out.fields["sample_rate"], out.fields["channels"]) == (44100, 2)
    assert (out.details["video_codec"], out.details["audio_codec"], out.details["container"]) == (
        "theora",
        "vorbis",
        "ogg",
    )
    assert (out.details["video_tracks"], out.details["audio_tracks"]) == (1, 1)


def sun_audio(seconds: float = 1.5, rate: int = 8000, channels: int = 1, encoding: int = 1, bits: int = 8) -> bytes:
    """A Sun/NeXT .au file: the 24-byte header, an annotation as sox writes one, then the samples."""
    annotation = b"Processed by SoX\x00\x00\x00\x00"
    samples = b"\x7f" * int(seconds * rate * channels * bits // 8)
    header = struct.pack(">4s5I", b".snd", 24 + len(annotation), len(samples), encoding, rate, channels)
    return header + annotation + samples


def test_a_sun_au_file_reports_encoding_rate_channels_and_duration() -> None:
    out = run(sun_audio(), "audio/basic")
    assert (out.fields["codec"], out.fields["sample_rate"], out.fields["channels"]) == ("mulaw", 8000, 1)
    assert out.fields["duration_seconds"] == 1.5
    assert out.fields["bitrate"] == 64_000
    stereo = run(sun_audio(seconds=2.0, rate=44100, channels=2, encoding=3, bits=16), "audio/basic")
    assert (stereo.fields["codec"], stereo.fields["channels"], stereo.fields["duration_seconds"]) == ("pcm", 2, 2.0)
    assert "title" not in out.fields  # the annotation is the tool's name, not a title


def test_an_au_file_whose_data_size_is_unknown_runs_to_the_end() -> None:
    data = bytearray(sun_audio(seconds=1.0))
    data[8:12] = b"\xff\xff\xff\xff"
    assert run(bytes(data), "audio/basic").fields["duration_seconds"] == 1.0


class BitWriter:
    def __init__(self) -> None:
        self.bits = ""

    def put(self, value: int, count: int) -> BitWriter:
        self.bits += format(value, f"0{count}b") if count else ""
        return self

    def ue(self, value: int) -> BitWriter:
        code = format(value + 1, "b")
        self.bits += "0" * (len(code) - 1) + code
        return self

    def done(self) -> bytes:
        bits = self.bits + "1"  # rbsp_stop_one_bit
        bits += "0" * (-len(bits) % 8)
        return int(bits, 2).to_bytes(len(bits) // 8, "big")


def h264_sps(width: int, height: int, fps: int) -> bytes:
    """A baseline-profile SPS NAL unit (type 7) for a frame-coded picture, cropped to size, with VUI timing."""
    mbs_w, mbs_h = -(-width // 16), -(-height // 16)
    w = BitWriter().put(66, 8).put(0, 8).put(30, 8).ue(0).ue(0).ue(0).ue(0).ue(1).put(0, 1)
    w.ue(mbs_w - 1).ue(mbs_h - 1).put(1, 1).put(1, 1)
    crop_right, crop_bottom = (mbs_w * 16 - width) // 2, (mbs_h * 16 - height) // 2
    if crop_right or crop_bottom:
        w.put(1, 1).ue(0).ue(crop_right).ue(0).ue(crop_bottom)
    else:
        w.put(0, 1)
    w.put(1, 1).put(0, 1).put(0, 1).put(0, 1).put(0, 1).put(1, 1).put(1, 32).put(2 * fps, 32).put(1, 1)
    return b"\x67" + w.done()


def ts_packet(pid: int, payload: bytes, start: bool = False, pcr: int | None = None) -> bytes:
    adaptation = b""
    if pcr is not None:
        adaptation = b"\x10" + ((pcr << 15) | 0x7E00).to_bytes(6, "big")
    room = 184 - (len(adaptation) + 1 if adaptation or len(payload) < 184 else 0)
    payload = payload[:room]
    if len(payload) < room or adaptation:
        stuffing = 184 - 1 - len(adaptation) - len(payload)
        adaptation = bytes([len(adaptation) + stuffing]) + adaptation + b"\xff" * stuffing
    control = (0x30 if adaptation else 0x10) | 0
    return bytes([0x47, (0x40 if start else 0) | (pid >> 8), pid & 0xFF, control]) + adaptation + payload


def psi(table_id: int, body: bytes) -> bytes:
    section = bytes([table_id]) + (0xB000 | (len(body) + 5 + 4)).to_bytes(2, "big") + b"\x00\x01\xc1\x00\x00"
    return b"\x00" + section + body + b"\x00\x00\x00\x00"  # pointer field; the CRC is not checked


def transport_stream(seconds: float = 6.0) -> bytes:
    pat = psi(0, struct.pack(">HH", 0, 0xE010) + struct.pack(">HH", 1, 0xE100))  # network PID, then program 1
    streams = bytes([0x1B]) + struct.pack(">HH", 0xE101, 0xF000) + bytes([0x0F]) + struct.pack(">HH", 0xE102, 0xF000)
    pmt = psi(2, struct.pack(">HH", 0xE101, 0xF000) + streams)
    pes = b"\x00\x00\x01\xe0\x00\x00\x80\x80\x05" + b"\x21\x00\x01\x00\x01"
    video = (
        pes + b"\x00\x00\x00\x01\x09\xf0" + b"\x00\x00\x00\x01" + h264_sps(1280, 720, 25) + b"\x00\x00\x00\x01\x68\xce"
    )
    adts_frame = adts(frames=1, length=100, rate_index=3, channels=2)
    audio = b"\x00\x00\x01\xc0\x00\x00\x80\x80\x05\x21\x00\x01\x00\x01" + adts_frame
    packets = [ts_packet(0, pat, start=True), ts_packet(0x100, pmt, start=True)]
    packets += [ts_packet(0x101, video, start=True, pcr=900_000), ts_packet(0x102, audio, start=True)]
    packets += [ts_packet(0x101, b"\x00" * 184) for _ in range(2000)]
    packets += [ts_packet(0x101, b"\x00" * 100, pcr=900_000 + int(seconds * 90000))]
    return b"".join(packets)


def test_an_h264_sequence_parameter_set_gives_the_cropped_size_and_frame_rate() -> None:
    from chalicelib.extraction.extractors import videoheaders

    assert videoheaders.h264_sps(h264_sps(1920, 1080, 30)) == videoheaders.Picture(1920, 1080, 30.0)
    assert videoheaders.h264_sps(h264_sps(640, 360, 25)) == videoheaders.Picture(640, 360, 25.0)
    assert videoheaders.h264_sps(b"\x67\x42") == videoheaders.Picture()  # cut short: nothing, no exception


def test_an_mpeg_transport_stream_reports_programs_streams_size_and_duration() -> None:
    out = run(transport_stream(), "video/mp2t")
    assert (out.fields["codec"], out.fields["width"], out.fields["height"]) == ("h264", 1280, 720)
    assert out.fields["frame_rate"] == 25.0
    assert out.fields["duration_seconds"] == 6.0
    assert (out.fields["sample_rate"], out.fields["channels"]) == (48000, 2)
    assert (out.details["container"], out.details["programs"], out.details["audio_codec"]) == ("mpegts", 1, "aac")
    assert (out.details["video_tracks"], out.details["audio_tracks"]) == (1, 1)


def test_a_transport_stream_is_detected_by_its_packet_rhythm() -> None:
    from chalicelib.extraction.detect import detect

    data = transport_stream()
    assert detect(data[:8192], bytes_reader(data)).mime_type == "video/mp2t"
    assert detect(b"\x47" + b"\x00" * 8191).mime_type != "video/mp2t"


def test_a_sun_au_file_is_detected_as_audio_basic() -> None:
    from chalicelib.extraction.detect import detect

    assert detect(sun_audio()[:8192]).mime_type == "audio/basic"


def flv_tag(kind: int, payload: bytes) -> bytes:
    return (
        bytes([kind]) + len(payload).to_bytes(3, "big") + b"\x00" * 7 + payload + struct.pack(">I", 11 + len(payload))
    )


def flv_without_metadata(video_payload: bytes) -> bytes:
    return b"FLV\x01\x01" + struct.pack(">I", 9) + b"\x00\x00\x00\x00" + flv_tag(9, video_payload)


def test_an_flv_without_onmetadata_takes_its_size_from_the_avc_sequence_header() -> None:
    sps = h264_sps(854, 480, 24)
    record = b"\x01\x64\x00\x1f\xff\xe1" + struct.pack(">H", len(sps)) + sps + b"\x01\x00\x04\x68\xee\x3c\x80"
    out = run(flv_without_metadata(b"\x17\x00\x00\x00\x00" + record), "video/x-flv")
    assert (out.fields["codec"], out.fields["width"], out.fields["height"]) == ("h264", 854, 480)
    assert out.fields["frame_rate"] == 24.0


def test_an_flv_without_onmetadata_takes_its_duration_from_the_last_tag() -> None:
    data = bytearray(flv_without_metadata(b"\x12" + b"\x00" * 40))
    last = flv_tag(9, b"\x22" + b"\x00" * 20)
    timestamp = bytearray(last)
    timestamp[4:8] = (2_500).to_bytes(3, "big") + b"\x00"  # 2.5 s, the last frame's start
    out = run(bytes(data) + bytes(timestamp), "video/x-flv")
    assert out.fields["duration_seconds"] == 2.5


def test_an_flv_without_onmetadata_takes_its_size_from_the_sorenson_picture_header() -> None:
    header = BitWriter().put(1, 17).put(0, 5).put(0, 8).put(1, 3).put(400, 16).put(224, 16).put(0, 7).done()
    out = run(flv_without_metadata(b"\x12" + header + b"\x00" * 32), "video/x-flv")
    assert (out.fields["codec"], out.fields["width"], out.fields["height"]) == ("h263", 400, 224)
    small = BitWriter().put(1, 17).put(0, 5).put(0, 8).put(5, 3).put(0, 7).done()  # size code 5: 320x240
    assert run(flv_without_metadata(b"\x12" + small), "video/x-flv").fields["width"] == 320


def _with_user_data(data: bytes, user_data: bytes) -> bytes:
    moov_at = data.index(b"moov") - 4
    return data[:moov_at] + box(b"moov", data[moov_at + 8 :] + user_data)


def test_a_quicktime_movie_reports_the_camera_make_and_model_from_its_user_data() -> None:
    def text(kind: bytes, value: bytes) -> bytes:
        return box(kind, struct.pack(">HH", len(value), 0x55C4) + value)

    data = _with_user_data(mp4(brand=b"qt  "), box(b"udta", text(b"\xa9mak", b"Canon") + text(b"\xa9mod", b"EOS R6")))
    out = run(data, "video/quicktime")
    assert (out.fields["camera_make"], out.fields["camera_model"]) == ("Canon", "EOS R6")


def test_an_iphone_movie_reports_make_model_and_place_from_its_metadata_keys() -> None:
    names = [b"com.apple.quicktime.make", b"com.apple.quicktime.model", b"com.apple.quicktime.location.ISO6709"]
    keys = full(b"keys", struct.pack(">I", len(names)) + b"".join(box(b"mdta", name) for name in names))
    values = [b"Apple", b"iPhone 13", b"+51.5007-000.1246+020.000/"]
    items = b"".join(
        box((index + 1).to_bytes(4, "big"), box(b"data", struct.pack(">II", 1, 0) + value))
        for index, value in enumerate(values)
    )
    meta = full(b"meta", full(b"hdlr", b"\x00" * 4 + b"mdta" + b"\x00" * 13) + keys + box(b"ilst", items))
    out = run(_with_user_data(mp4(brand=b"qt  "), meta), "video/quicktime")
    assert (out.fields["camera_make"], out.fields["camera_model"]) == ("Apple", "iPhone 13")
    assert (out.fields["gps_latitude"], out.fields["gps_longitude"]) == (51.5007, -0.1246)


def test_embedded_cover_art_is_reported_by_type_and_size_never_by_its_bytes() -> None:
    from mutagen.id3 import APIC, ID3

    buffer = io.BytesIO(mp3(frames=20))
    tags = ID3(buffer)
    picture = b"\xff\xd8\xff\xe0" + b"\x00" * 5000
    tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover", data=picture))
    tags.save(buffer)
    out = run(buffer.getvalue(), "audio/mpeg")
    assert out.details["cover_art"] == {"mime_type": "image/jpeg", "size": len(picture), "count": 1}
    assert "cover_art" not in run(mp3(frames=20), "audio/mpeg").details


def test_media_copyright_comes_from_the_tags() -> None:
    from mutagen.id3 import ID3, TCOP

    buffer = io.BytesIO(mp3(frames=20))
    tags = ID3(buffer)
    tags.add(TCOP(encoding=3, text="2021 Label Records"))
    tags.save(buffer)
    assert run(buffer.getvalue(), "audio/mpeg").fields["copyright"] == "2021 Label Records"


def test_an_mp3_of_one_frame_has_a_duration() -> None:
    out = run(b"\xff\xfb\x90\x00" + b"\x00" * 413, "audio/mpeg")  # MPEG-1 layer III: 1152 samples at 44.1 kHz
    assert out.fields["duration_seconds"] == pytest.approx(1152 / 44100, abs=0.001)
    assert out.fields["sample_rate"] == 44100


def test_a_large_transport_stream_costs_its_head_and_tail_only() -> None:
    data = transport_stream(seconds=600.0)
    filler = ts_packet(0x101, b"\\x00" * 184)
    head, last = data[:-188], data[-188:]
    middle = 200 * 1024 * 1024 // 188  # packets of a 200 MB recording, never fetched

    size = len(head) + middle * 188 + len(last)

    def fetch(start: int, end: int) -> bytes:
        out = bytearray()
        for at in range(start, end + 1):
            if at < len(head):
                out.append(head[at])
            elif at >= size - 188:
                out.append(last[at - (size - 188)])
            else:
                out.append(filler[(at - len(head)) % 188])
        return bytes(out)

    reader = RangedReader(fetch, size)
    out = run(b"", "video/mp2t", reader=reader)
    assert out.fields["duration_seconds"] == 600.0
    assert (out.fields["width"], out.fields["height"]) == (1280, 720)
    assert reader.bytes_fetched <= 256 * 1024, reader.bytes_fetched
