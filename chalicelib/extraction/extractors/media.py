"""Audio and video: duration, codecs, bitrate, sample rate, channels, size, frame rate, tags.

mutagen (pure Python, well kept, no native code) reads the audio formats and
their tags: MP3, FLAC, Ogg Vorbis/Opus/FLAC/Speex, WAV, AIFF, WMA/ASF and the
tags and audio stream of MP4. It does not describe video tracks, so the video
containers are parsed from their headers here: MP4/MOV (mp4.py), Matroska/WebM
(matroska.py), AVI (avi.py), FLV (flv.py), ASF/WMV/WMA (asf.py: mutagen
gives only the audio stream of a WMV and no length for a cut one) and Ogg
Theora (ogg.py); Sun/NeXT audio (au.py) and MPEG transport streams (ts.py),
which mutagen lacks, from their headers. Every parser seeks past the media
data; what is read is headers and indexes, never frames.

A file mutagen cannot finish (truncated, broken frames) keeps what the
container parser learned; only a file nothing can read fails, as `corrupt`.
"""

from __future__ import annotations

import mutagen
import mutagen.aac
import mutagen.flac

try:
    from mutagen._constants import GENRES
except ImportError:  # a private table of mutagen's: without it, numeric genres stay as written
    GENRES = []

import base64
import re
import struct
from collections.abc import Callable
from typing import Any, BinaryIO

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import isobmff
from chalicelib.extraction.extractors import asf, au, avi, flv, matroska, mp4, mpegaudio, ogg, ts
from chalicelib.extraction.extractors.avinfo import AVInfo, ContainerError
from chalicelib.extraction.extractors.base import Extraction, Source, compact
from chalicelib.extraction.signatures import transport_packets

_ISOBMFF_TYPES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_TAG_KEYS: dict[str, tuple[str, ...]] = {
    "title": ("title", "TIT2", "\xa9nam", "Title", "INAM"),
    "artist": ("artist", "TPE1", "\xa9ART", "Author", "Artist", "aART", "TPE2", "albumartist"),
    "album": ("album", "TALB", "\xa9alb", "WM/AlbumTitle", "Album"),
    "year": ("date", "year", "TDRC", "TYER", "\xa9day", "WM/Year", "Year", "ICRD"),
    "genre": ("genre", "TCON", "\xa9gen", "WM/Genre", "Genre"),
    "copyright": ("copyright", "TCOP", "cprt", "Copyright", "WM/Copyright"),
}
_CODECS = {
    "MP3": "mp3",
    "EasyMP3": "mp3",
    "FLAC": "flac",
    "OggVorbis": "vorbis",
    "OggOpus": "opus",
    "OggFLAC": "flac",
    "OggSpeex": "speex",
    "OggTheora": "theora",
    "WAVE": "pcm",
    "AIFF": "pcm",
    "MonkeysAudio": "ape",
    "WavPack": "wavpack",
    "TrueAudio": "tta",
    "Musepack": "musepack",
    "AAC": "aac",
    "AC3": "ac3",
    "DSF": "dsd",
    "DSDIFF": "dsd",
    "OptimFROG": "optimfrog",
    "SMF": "midi",
}
_CODEC_NAMES = {
    "avc1": "h264",
    "avc3": "h264",
    "h264": "h264",
    "x264": "h264",
    "v_mpeg4/iso/avc": "h264",
    "hvc1": "hevc",
    "hev1": "hevc",
    "v_mpegh/iso/hevc": "hevc",
    "mp4v": "mpeg4",
    "xvid": "mpeg4",
    "divx": "mpeg4",
    "dx50": "mpeg4",
    "fmp4": "mpeg4",
    "v_mpeg4/iso/asp": "mpeg4",
    "av01": "av1",
    "v_av1": "av1",
    "vp08": "vp8",
    "v_vp8": "vp8",
    "vp09": "vp9",
    "v_vp9": "vp9",
    "jpeg": "mjpeg",
    "mjpg": "mjpeg",
    "mjpa": "mjpeg",
    "v_mjpeg": "mjpeg",
    "a_aac": "aac",
    "a_mpeg/l3": "mp3",
    "a_vorbis": "vorbis",
    "a_opus": "opus",
    "a_flac": "flac",
    "a_ac3": "ac3",
    "ac-3": "ac3",
    "ec-3": "eac3",
    "a_eac3": "eac3",
    "a_pcm/int/lit": "pcm",
    "sowt": "pcm",
    "twos": "pcm",
    "lpcm": "pcm",
    "raw": "pcm",
    "mp4a.6b": "mp3",
    "mp4a.69": "mp3",
    ".mp3": "mp3",
}
_CONTAINERS = {"OggVorbis": "ogg", "OggOpus": "ogg", "OggFLAC": "ogg", "OggSpeex": "ogg", "OggTheora": "ogg"}
_CONTAINERS |= {"WAVE": "wav", "AIFF": "aiff", "ASF": "asf", "MP4": "mp4", "EasyMP4": "mp4", "EasyMP3": "mp3"}


def extract(source: Source) -> Extraction:
    parser = _container_parser(source.head)
    info: AVInfo | None = None
    warnings: list[str] = []
    failure: Exception | None = None
    if parser is not None:
        try:
            info = parser(source.file, source.size)
        except (ContainerError, isobmff.BoxError, struct.error, ValueError) as exc:
            failure = exc
    try:
        audio = _mutagen(source, warnings, needed=info is None)
    except ExtractionFailed:
        info, audio = _short_mpeg_audio(source), None  # one or two frames: mutagen cannot sync on them
        if info is None:
            raise
    if info is None and audio is None:
        message = str(failure) if failure else "media: not a readable audio or video file"
        raise ExtractionFailed(message, code="corrupt")
    return _build(info, audio, source, warnings)


def _short_mpeg_audio(source: Source) -> AVInfo | None:
    if source.mime_type not in ("audio/mpeg", "audio/mp3"):
        return None
    try:
        return mpegaudio.read(source.file, source.size)
    except (ContainerError, struct.error, KeyError):
        return None


def _container_parser(head: bytes) -> Callable[[BinaryIO, int], AVInfo] | None:
    if head[4:8] in _ISOBMFF_TYPES:
        return mp4.read
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return matroska.read
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return avi.read
    if head[:3] == b"FLV":
        return flv.read
    if head[:16] == asf.HEADER:
        return asf.read
    if head[:4] == b"OggS" and b"\x80theora" in head:  # Ogg video; Ogg audio is mutagen's
        return ogg.read
    if head[:4] == b".snd":
        return au.read
    if transport_packets(head)[0]:
        return ts.read
    return None


def _mutagen(source: Source, warnings: list[str], needed: bool) -> Any:
    """The mutagen file object, or None; its failures become warnings or `corrupt`."""
    head = source.head
    if (
        head[:3] == b"FLV"
        or head[:4] in (b"\x1a\x45\xdf\xa3", b".snd")
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
    ):
        return None
    if transport_packets(head)[0]:
        return None
    source.reader.seek(0)
    try:
        found = mutagen.File(source.file)
    except mutagen.MutagenError as exc:
        if needed:
            raise ExtractionFailed(f"media: {_reason(exc)}", code="corrupt") from exc
        warnings.append(f"media: tags unreadable ({_reason(exc)})")
        return None
    except (struct.error, ValueError, EOFError, OverflowError, IndexError) as exc:
        if needed:
            raise ExtractionFailed(f"media: {type(exc).__name__}: {exc}", code="corrupt") from exc
        warnings.append(f"media: tags unreadable ({type(exc).__name__})")
        return None
    return found if found is not None else _raw_aac(source)


def _raw_aac(source: Source) -> Any:
    """Raw AAC (ADTS frames or an ADIF header): mutagen guesses it only from a file name, so ask for it."""
    head = source.head
    if not (head[:4] == b"ADIF" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0)):
        return None
    source.reader.seek(0)
    try:
        return mutagen.aac.AAC(source.file)
    except (mutagen.MutagenError, struct.error, ValueError, EOFError, IndexError):
        return None


def _reason(exc: Exception) -> str:
    text = str(exc).replace("\n", " ")[:200]
    return f"{type(exc).__name__}: {text}" if text and text != "error" else type(exc).__name__


def _build(info: AVInfo | None, audio: Any, source: Source, warnings: list[str]) -> Extraction:
    stream = getattr(audio, "info", None)
    kind = type(audio).__name__ if audio is not None else ""
    tags = _tags(getattr(audio, "tags", None))
    if source.head[:4] == b"RIFF" and source.head[8:12] == b"WAVE":
        for name, value in riff_info(source).items():
            tags.setdefault(name, value)
    if info is not None and info.title and "title" not in tags:
        tags["title"] = info.title
    duration = (info.duration if info else None) or _stream_length(stream, source.size, warnings)
    video = info is not None and info.video_tracks > 0
    # mutagen names ASF's audio codec loosely and takes an Ogg video's Theora stream for its audio
    container_first = info is not None and info.container in ("asf", "ogg")
    stream_codec = None if container_first and info and info.audio_codec else _audio_codec(kind, stream)
    audio_codec = _codec_name(stream_codec or (info.audio_codec if info else None))
    video_codec = _codec_name(info.video_codec if info else None)
    fields: dict[str, Any] = {
        "duration_seconds": round(duration, 3) if duration else None,
        "codec": video_codec if video else audio_codec,
        "bitrate": _bitrate(info, stream, duration, source.size, video),
        "sample_rate": (info.sample_rate if info else None) or _sample_rate(kind, stream),
        "channels": (info.channels if info else None) or _int(getattr(stream, "channels", None)),
        "gps_latitude": info.gps_latitude if info else None,
        "gps_longitude": info.gps_longitude if info else None,
        "title": tags.get("title"),
        "author": tags.get("artist"),
        "copyright": tags.get("copyright") or (info.copyright if info else None),
        "created": info.created if info else None,
        "camera_make": info.camera_make if info else None,
        "camera_model": info.camera_model if info else None,
    }
    if info is not None and video:
        fields.update({"width": info.width, "height": info.height, "frame_rate": info.frame_rate})
    details = {
        "container": (info.container if info else None) or _CONTAINERS.get(kind, kind.lower() or None),
        "brand": info.brand if info else None,
        "video_codec": video_codec,
        "audio_codec": audio_codec,
        "video_tracks": info.video_tracks if info else None,
        "audio_tracks": info.audio_tracks if info else (1 if stream is not None else None),
        "other_tracks": info.other_tracks if info else None,
        "programs": info.programs if info else None,
        "rotation": info.rotation if info and video else None,
        "bits_per_sample": _int(getattr(stream, "bits_per_sample", None)),
        "tags": compact(tags),
        "cover_art": cover_art(audio),
    }
    all_warnings = (info.warnings if info else []) + warnings
    return Extraction(fields=compact(fields), details=compact(details), warnings=all_warnings)


_MP4_COVER_FORMATS = {13: "image/jpeg", 14: "image/png", 27: "image/bmp"}


def cover_art(audio: Any) -> dict[str, Any] | None:
    """Whether the file embeds a picture, and its type and size (never its bytes).

    ID3 APIC frames, MP4 `covr` items, FLAC PICTURE blocks, the Vorbis comment
    METADATA_BLOCK_PICTURE and ASF's WM/Picture, as mutagen reads them.
    """
    pictures: list[tuple[str | None, int]] = []
    tags: Any = getattr(audio, "tags", None)
    try:
        if hasattr(tags, "getall"):
            pictures += [(frame.mime, len(frame.data)) for frame in tags.getall("APIC")]
        for picture in getattr(audio, "pictures", None) or []:
            pictures.append((picture.mime, len(picture.data)))
        if tags is not None and not hasattr(tags, "getall"):
            pictures += _tag_pictures(tags)
    except (AttributeError, KeyError, TypeError, ValueError, mutagen.MutagenError):
        return None
    if not pictures:
        return None
    mime, size = pictures[0]
    return compact({"mime_type": mime or None, "size": size, "count": len(pictures)})


def _tag_pictures(tags: Any) -> list[tuple[str | None, int]]:
    found: list[tuple[str | None, int]] = []
    for cover in tags.get("covr") or []:
        found.append((_MP4_COVER_FORMATS.get(getattr(cover, "imageformat", 0)), len(cover)))
    for encoded in tags.get("metadata_block_picture") or []:
        picture = mutagen.flac.Picture(base64.b64decode(encoded))
        found.append((picture.mime, len(picture.data)))
    for attribute in tags.get("WM/Picture") or []:
        found.append(_asf_picture(getattr(attribute, "value", b"")))
    return found


def _asf_picture(value: bytes) -> tuple[str | None, int]:
    """WM/Picture: picture type (1 byte), data length (32-bit), MIME type and description (UTF-16, NUL-ended)."""
    if len(value) < 5:
        return None, 0
    (length,) = struct.unpack_from("<I", value, 1)
    end = value.find(b"\x00\x00", 5)
    while end > 0 and (end - 5) % 2:
        end = value.find(b"\x00\x00", end + 1)
    mime = value[5:end].decode("utf-16-le", "replace") if end > 0 else None
    return mime, length


_RIFF_INFO = {
    "INAM": "title",
    "IART": "artist",
    "IPRD": "album",
    "ICRD": "year",
    "IGNR": "genre",
    "ICMT": "comment",
    "ICOP": "copyright",
    "ISFT": "software",
}


def riff_info(source: Source) -> dict[str, str]:
    """A WAV file's RIFF LIST/INFO tags (title INAM, artist IART, comment ICMT, date ICRD, ...).

    mutagen reads only ID3 chunks in WAV; INFO is what most recorders and
    editors write. Only chunk headers are read on the way (the audio data is
    skipped by seeking), as for AVI (`avi.riff_lists`).
    """
    tags: dict[str, str] = {}
    for _, data in avi.riff_lists(source.file, source.size, source.head[:12], (b"INFO",)):
        found = avi.info_list(data)
        tags.update({name: found[key][:1024] for key, name in _RIFF_INFO.items() if found.get(key)})
    return tags


def _sample_rate(kind: str, stream: Any) -> int | None:
    """Opus always decodes at 48 kHz; mutagen leaves its rate out."""
    return _int(getattr(stream, "sample_rate", None)) or (48000 if kind == "OggOpus" else None)


def _codec_name(codec: str | None) -> str | None:
    """One spelling per codec across containers (avc1, H264, V_MPEG4/ISO/AVC are all h264)."""
    if not codec:
        return None
    key = codec.strip().lower()
    if key in _CODEC_NAMES:
        return _CODEC_NAMES[key]
    if key.startswith("mp4a"):
        return "aac"
    return codec.strip()


def _audio_codec(kind: str, stream: Any) -> str | None:
    if stream is None:
        return None
    codec = getattr(stream, "codec", None) or getattr(stream, "codec_name", None)
    if isinstance(codec, str) and codec.strip():
        return codec.strip()
    if kind in ("MP3", "EasyMP3"):
        layer = getattr(stream, "layer", 3)
        return "mp3" if layer == 3 else f"mp{layer}"
    return _CODECS.get(kind)


def _bitrate(info: AVInfo | None, stream: Any, duration: float | None, size: int, video: bool) -> int | None:
    if info is not None and info.bitrate:
        return info.bitrate
    if not video:
        rate = _int(getattr(stream, "bitrate", None))
        if rate:
            return rate
    if duration and duration > 0:
        return round(size * 8 / duration) or None
    return None


def _tags(tags: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if not tags:
        return out
    for name, keys in _TAG_KEYS.items():
        for key in keys:
            value = _tag_text(tags, key)
            if value:
                out[name] = value
                break
    if "year" in out:
        match = re.search(r"\d{4}", out["year"])
        if match:
            out["year"] = match.group(0)
        else:
            del out["year"]
    if "genre" in out:
        out["genre"] = _id3_genre(out["genre"])
    return out


def _tag_text(tags: Any, key: str) -> str | None:
    try:
        value = tags.get(key)
    except (KeyError, ValueError, TypeError):
        return None
    if value is None:
        return None
    if hasattr(value, "text"):
        value = value.text
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None:
        return None
    if hasattr(value, "value"):
        value = value.value
    text = str(value).replace("\x00", " ").strip()
    return text[:1000] or None


def _id3_genre(text: str) -> str:
    """ID3v1 numeric genres written as '(17)' or '17' become names."""
    match = re.fullmatch(r"\(?(\d{1,3})\)?", text)
    if not match:
        return text
    try:
        return str(GENRES[int(match.group(1))])
    except IndexError:
        return text


def _stream_length(stream: Any, size: int, warnings: list[str]) -> float | None:
    """mutagen's length, unless the stream's own bitrate says the file is far too small for it."""
    length = _positive(getattr(stream, "length", None))
    bitrate = _int(getattr(stream, "bitrate", None))
    if length and bitrate and length * bitrate / 8 > 2 * size + 65536:
        warnings.append("media: the header's duration does not fit the file size; estimated from the bitrate")
        return size * 8 / bitrate
    return length


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and number == number and number != float("inf") else None


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number > 0 else None
