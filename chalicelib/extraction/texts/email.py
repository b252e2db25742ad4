"""E-mail and mbox: each message's subject and text body (the plain part, else the HTML part's text).

A single message that extraction parsed whole (no envelope line, within its
parse cap) is not parsed again: the text comes from that parse
(`PARSED_MESSAGE` in the reader's `parsed`), which is the parse of the same bytes.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from chalicelib.extraction.extractors.email import PARSED_MESSAGE
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.markup import html_text
from chalicelib.extraction.text import Sink

_SEPARATOR = re.compile(rb"^From [^\r\n]*\r?\n", re.M)


def text(reader: RangedReader, metadata: dict[str, Any], sink: Sink) -> None:
    parsed = reader.parsed.get(PARSED_MESSAGE)
    if isinstance(parsed, EmailMessage) and reader.size <= sink.budget.max_read_bytes:
        sink.add(message_text(parsed, sink.budget.max_bytes) + "\n\n")  # extraction parsed these very bytes
        return
    reader.seek(0)
    data = reader.read(min(reader.size, sink.budget.max_read_bytes))
    if len(data) < reader.size:
        sink.truncated = True
    for number, raw in enumerate(messages(data, metadata.get("mime_type") == "application/mbox")):
        if number >= sink.budget.max_parts:
            sink.truncated = True
            return
        sink.check()
        message = BytesParser(policy=policy.default).parsebytes(raw)
        if isinstance(message, EmailMessage):
            sink.add(message_text(message, sink.budget.max_bytes) + "\n\n")


def messages(data: bytes, mbox: bool) -> list[bytes]:
    """The raw messages: one for a message file (its envelope line dropped), each of an mbox's."""
    separators = list(_SEPARATOR.finditer(data)) if mbox or data.startswith(b"From ") else []
    if not separators:
        return [data]
    ends = [*(m.start() for m in separators[1:]), len(data)]
    return [data[m.end() : end] for m, end in zip(separators, ends, strict=True)]


def message_text(message: EmailMessage, limit: int) -> str:
    subject = str(message.get("Subject", "") or "").strip()
    try:
        part = message.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
    except Exception:  # a truncated or mis-encoded part: the subject still counts
        part, body = None, ""
    if not isinstance(body, str):
        body = ""
    if part is not None and part.get_content_type() == "text/html":
        body = html_text(body, limit)
    return "\n\n".join(p for p in (subject, body.strip()) if p)
