"""The frames the sandbox host and its processes exchange (`sandbox.py` <-> `zygote.py`).

A frame is one kind byte, a 4-byte length and the payload. Jobs and results
are JSON; a worker reads the file through the host (FETCH asks for a byte
range, DATA answers it), so storage, credentials and the time spent waiting on
storage all stay in the host. This module is all the host imports of the
worker side: no parser, no ctypes.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

FRAME = struct.Struct("!cI")
JOB = b"J"
END_SESSION = b"X"
FETCH = b"F"
DATA = b"D"
RESULT = b"R"
FORKED = b"P"
PID = struct.Struct("!q")
RANGE = struct.Struct("!QQ")
MAX_FRAME = 1 << 31


def send_frame(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    if len(payload) < 65536:  # one system call for the common small frame
        sock.sendall(FRAME.pack(kind, len(payload)) + payload)
    else:
        sock.sendall(FRAME.pack(kind, len(payload)))
        sock.sendall(payload)


def recv_exact(sock: socket.socket, size: int) -> bytes | None:
    """Exactly `size` bytes, or None at end of stream."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        got = sock.recv_into(view[done:], size - done)
        if not got:
            return None
        done += got
    return bytes(buffer)


def recv_frame(sock: socket.socket) -> tuple[bytes, bytes] | None:
    """(kind, payload), or None when the other side has gone."""
    header = recv_exact(sock, FRAME.size)
    if header is None:
        return None
    kind, size = FRAME.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes")
    payload = recv_exact(sock, size) if size else b""
    return None if payload is None else (kind, payload)


def dumps(value: Any) -> bytes:
    """JSON for the wire: strings that are not valid UTF-8 (lone surrogates) are replaced, never fatal."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text.encode("utf-8", "replace")
