"""E-mail: the main headers, the attachments' names and the beginning of the body.

The standard library's parser is fed at most `Budget.read_bytes` (the headers
and the first body part come first; a large attachment is simply not read).
For an mbox only the first message is shown. The body is the plain-text part
when there is one, else the HTML part reduced to its text (never its markup).
"""

from __future__ import annotations

from email import policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage, Message
from typing import Any

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.base import Block, Budget, Content, Excerpt, Fields, Items, cut
from chalicelib.extraction.renditions.markup import html_text

HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Date", "Subject", "Message-ID")
MAX_HEADER_CHARS = 2_000
MAX_ATTACHMENTS = 50
MAX_PARTS = 200


def content(reader: RangedReader, document: dict[str, Any], budget: Budget) -> Content:
    data = _first_message(reader, budget)
    parser = BytesFeedParser(policy=policy.default)
    parser.feed(data)
    message = parser.close()
    if not isinstance(message, EmailMessage) or not message.keys():
        raise ValueError("no message headers found")
    blocks: list[Block] = [Fields("Headers", _headers(message))]
    attachments = _attachments(message)
    if attachments:
        blocks.append(Items("Attachments", attachments))
    body, note = _body(message, budget)
    if len(data) >= budget.read_bytes and not body:
        note = "The body lies past the part of the message that was read."
    blocks.append(Excerpt("Body", body, note))
    return Content(blocks)


def _first_message(reader: RangedReader, budget: Budget) -> bytes:
    """The first `read_bytes` of the message, without an mbox envelope line or the messages after it."""
    reader.seek(0)
    data = reader.read(budget.read_bytes)
    if data.startswith(b"From "):
        end = data.find(b"\n")
        data = data[end + 1 :] if end >= 0 else b""
        following = data.find(b"\nFrom ")
        if following >= 0:
            data = data[: following + 1]
    return data


def _headers(message: Message) -> list[list[str]]:
    items = []
    for name in HEADERS:
        try:
            values = message.get_all(name) or []
        except Exception:  # a header the policy cannot parse: show it raw
            values = [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]
        for value in values[:5]:
            text, cut_off = cut(" ".join(str(value).split()), MAX_HEADER_CHARS)
            items.append([name, text + "…" if cut_off else text])
    return items


def _attachments(message: EmailMessage) -> list[str]:
    names: list[str] = []
    for count, part in enumerate(message.walk()):
        if count >= MAX_PARTS or len(names) >= MAX_ATTACHMENTS:
            break
        if part is message or part.is_multipart():
            continue
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        if filename or part.get_content_disposition() == "attachment":
            label = " ".join(str(filename or "(no name)").split())[:300]
            names.append(f"{label} ({part.get_content_type()})")
    return names


def _body(message: EmailMessage, budget: Budget) -> tuple[str, str | None]:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
        if part is None:
            return "", "The message has no text body."
        raw = part.get_content()
    except Exception as exc:  # a truncated or mis-encoded part
        return "", f"The body could not be decoded ({type(exc).__name__})."
    if not isinstance(raw, str):
        return "", "The message has no text body."
    is_html = part.get_content_type() == "text/html"
    text = html_text(raw, budget.excerpt_chars) if is_html else raw
    excerpt, cut_off = cut(text.strip(), budget.excerpt_chars)
    notes = []
    if is_html:
        notes.append("Text of the HTML body; markup, scripts and styles are left out.")
    if cut_off:
        notes.append(f"The first {len(excerpt):,} characters.")
    return excerpt, " ".join(notes) or None
