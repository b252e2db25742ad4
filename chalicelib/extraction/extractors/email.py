"""E-mail: single messages (message/rfc822, .eml) and mailboxes (application/mbox).

The standard library's email package parses the message, fed in chunks and
stopped at MAX_PARSE_BYTES so a huge message (large attachments) costs a
bounded amount of memory; past the cap the attachment list may be incomplete
and a warning says so. Headers are decoded (RFC 2047) by the modern policy.
For an mbox the messages are counted by streaming the file for "From " lines
(bounded by MAX_SCAN_BYTES) and the first message's headers are reported.
"""

from __future__ import annotations

from email import policy
from email.feedparser import BytesFeedParser
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors.base import Extraction, Source, compact, iso

MAX_PARSE_BYTES = 8 * 1024 * 1024
MAX_SCAN_BYTES = 256 * 1024 * 1024
MAX_PARTS = 1000
MAX_ATTACHMENT_NAMES = 50
MAX_ADDRESSES = 200
MAX_TEXT = 1024
CHUNK = 64 * 1024

MBOX_TYPES = frozenset({"application/mbox"})


PARSED_MESSAGE = "email_message"
"""Name, in `RangedReader.parsed`, of a single message parsed whole from its first byte (the text stage reuses it)."""


def extract(source: Source) -> Extraction:
    if source.mime_type in MBOX_TYPES:
        return _mbox(source)
    start = _envelope_length(source.head)
    message, warnings = _parse(source, start, None)
    if start == 0 and not warnings:  # every byte parsed, none skipped: what the text stage would parse
        source.reader.parsed[PARSED_MESSAGE] = message
    return _describe(message, warnings)


def _envelope_length(head: bytes) -> int:
    """A saved message may start with an mbox envelope line ('From sender date'); skip it."""
    if not head.startswith(b"From "):
        return 0
    end = head.find(b"\n")
    return end + 1 if end >= 0 else 0


def _parse(source: Source, start: int, end: int | None) -> tuple[EmailMessage, list[str]]:
    """Feed bytes [start, end) to the parser, at most MAX_PARSE_BYTES of them."""
    parser = BytesFeedParser(policy=policy.default)
    stop = source.size if end is None else min(end, source.size)
    limit = min(stop, start + MAX_PARSE_BYTES)
    source.reader.seek(start)
    pos = start
    while pos < limit:
        chunk = source.reader.read(min(CHUNK, limit - pos))
        if not chunk:
            break
        parser.feed(chunk)
        pos += len(chunk)
    warnings = []
    if limit < stop:
        warnings.append(f"email: only the first {MAX_PARSE_BYTES} bytes were parsed; attachments may be missing")
    message = parser.close()
    if not isinstance(message, EmailMessage) or not message.keys():
        raise ExtractionFailed("email: no message headers found", code="corrupt")
    return message, warnings


def _describe(message: EmailMessage, warnings: list[str]) -> Extraction:
    attachments = _attachments(message)
    fields = {
        "subject": _header(message, "Subject"),
        "from": _first(_addresses(message, "From")),
        "to": _addresses(message, "To"),
        "cc": _addresses(message, "Cc"),
        "sent_at": _date(message),
        "attachment_count": len(attachments),
    }
    details = {
        "message_id": _header(message, "Message-ID"),
        "in_reply_to": _header(message, "In-Reply-To"),
        "reply_to": _first(_addresses(message, "Reply-To")),
        "content_type": message.get_content_type(),
        "user_agent": _header(message, "User-Agent") or _header(message, "X-Mailer"),
        "attachment_names": [name for name in attachments if name][:MAX_ATTACHMENT_NAMES],
    }
    if message.get_content_type() in ("application/pkcs7-mime", "multipart/encrypted"):
        fields["encrypted"] = True
    if message.defects:
        warnings.append(f"email: {len(message.defects)} structural defect(s) ({type(message.defects[0]).__name__})")
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # a malformed header the policy cannot fold into an object
        value = None
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text[:MAX_TEXT] or None


def _addresses(message: Message, name: str) -> list[str]:
    out: list[str] = []
    try:
        header = message.get(name)
        groups = getattr(header, "addresses", None)
    except Exception:
        header, groups = None, None
    if groups is not None:
        out = [_format(address) for address in groups]
    elif header is not None:
        out = [f"{n} <{a}>" if n and a else a or n for n, a in getaddresses([str(header)])]
    return [item[:MAX_TEXT] for item in out if item][:MAX_ADDRESSES]


def _format(address: Address) -> str:
    name, addr = address.display_name, address.addr_spec
    if name and addr:
        return f"{name} <{addr}>"
    return addr or name


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _date(message: Message) -> str | None:
    raw = _header(message, "Date")
    if not raw:
        return None
    try:
        return iso(parsedate_to_datetime(raw))
    except (TypeError, ValueError, IndexError):
        return None


def _attachments(message: EmailMessage) -> list[str]:
    """Names of parts that are attachments: a filename or an attachment disposition, or an attached message."""
    names: list[str] = []
    for count, part in enumerate(message.walk()):
        if count >= MAX_PARTS:
            break
        if part is message or (part.is_multipart() and part.get_content_type() != "message/rfc822"):
            continue
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        disposition = part.get_content_disposition()
        if filename or disposition == "attachment" or part.get_content_type() == "message/rfc822":
            names.append(" ".join(str(filename or "").split())[:MAX_TEXT])
    return names


# --- mbox -----------------------------------------------------------------------------


def _mbox(source: Source) -> Extraction:
    count, first_end, scanned_all = _scan(source)
    if count == 0:
        raise ExtractionFailed("email: an mbox without any 'From ' separator line", code="corrupt")
    message, warnings = _parse(source, _envelope_length(source.head), first_end)
    result = _describe(message, warnings)
    result.details = {"message_count": count, "first_message": compact({**result.fields, **result.details})}
    result.fields = compact({"entry_count": count})
    if not scanned_all:
        result.details["message_count_is_lower_bound"] = True
        result.warnings.append(f"email: only the first {MAX_SCAN_BYTES} bytes were scanned for messages")
    return result


def _scan(source: Source) -> tuple[int, int | None, bool]:
    """Count 'From ' separator lines; return (count, offset of the second one, whole file scanned)."""
    count, second, pos, carry, carry_start = 0, None, 0, b"", 0
    limit = min(source.size, MAX_SCAN_BYTES)
    source.reader.seek(0)
    while pos < limit:
        chunk = source.reader.read(min(CHUNK, limit - pos))
        if not chunk:
            break
        data, offset = carry + chunk, carry_start
        lines = data.split(b"\n")
        carry = lines.pop()
        for line in lines:
            if line.startswith(b"From "):
                count += 1
                if count == 2:
                    second = offset
            offset += len(line) + 1
        carry_start = offset
        carry = carry[:CHUNK]  # a line longer than a chunk: only its start matters
        pos += len(chunk)
    if carry.startswith(b"From ") and pos >= source.size:
        count += 1
    return count, second, limit >= source.size
