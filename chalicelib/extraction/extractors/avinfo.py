"""What the audio/video container parsers report, before it becomes metadata.

The container modules (mp4, matroska, avi, flv) fill one `AVInfo` each; media.py
turns it into the normalized vocabulary. Keeping the parsers free of that
mapping lets each be tested on its own structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ContainerError(ValueError):
    """The container is broken beyond what can be read."""


@dataclass
class AVInfo:
    container: str
    duration: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bitrate: int | None = None
    video_tracks: int = 0
    audio_tracks: int = 0
    other_tracks: int = 0
    programs: int | None = None
    rotation: int | None = None
    created: str | None = None
    gps_latitude: float | None = None
    gps_longitude: float | None = None
    title: str | None = None
    copyright: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    brand: str | None = None
    warnings: list[str] = field(default_factory=list)
