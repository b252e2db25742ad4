"""What kind of text a decoded buffer is: markup, JSON, e-mail, CSV/TSV or plain.

Each kind is decided from the text itself with consistency checks (a CSV's
records split into the same number of fields; JSON parses, or only its cut end
does not), so prose with commas stays plain text. The extension only breaks
ties: a one-column `.csv`, an `.eml` that starts like an mbox.
"""

from __future__ import annotations

import json
import re

from chalicelib.extraction.delimited import best


def classify_text(text: str, complete: bool, ext: str | None = None) -> str:
    """The type of a decoded text: markup, JSON, e-mail, CSV/TSV or plain."""
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith("<"):
        markup = _markup(body)
        if markup:
            return markup
    if body.startswith(("{", "[")) and _is_json(body, complete):
        return "application/json"
    mail = _mail(body, ext)
    if mail:
        return mail
    delimited = _delimited(text, complete, ext)
    return delimited or "text/plain"


_HTML_TAGS = {
    "html", "head", "body", "script", "style", "div", "p", "table", "meta", "title", "link", "a", "span",
    "br", "h1", "h2", "h3", "h4", "h5", "h6", "iframe", "form", "img", "ul", "ol", "li", "center", "font",
    "b", "i", "pre", "frameset", "base", "noscript", "section", "header", "nav", "main", "article",
}  # fmt: skip
_ELEMENT = re.compile(r"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)")


def _markup(body: str) -> str | None:
    rest, xml_decl = body, False
    for _ in range(64):
        rest = rest.lstrip()
        if rest.startswith("<?"):
            xml_decl = xml_decl or rest[2:5].lower() == "xml"
            end = rest.find("?>")
            rest = rest[end + 2 :] if end >= 0 else ""
        elif rest.startswith("<!--"):
            end = rest.find("-->")
            rest = rest[end + 3 :] if end >= 0 else ""
        elif rest[:9].upper() == "<!DOCTYPE":
            if rest[9:].lstrip()[:4].lower() == "html":
                return "text/html"
            rest = _skip_doctype(rest)
        else:
            break
    match = _ELEMENT.match(rest)
    if not match:
        return "application/xml" if xml_decl else None
    name = match.group(1)
    local = name.rsplit(":", 1)[-1].lower()
    if local == "html" and (not xml_decl or _is_xhtml_root(name, rest)):
        return "text/html"
    if local == "svg":
        return "image/svg+xml"
    if name in ("x:xmpmeta", "x:xapmeta") or name == "rdf:RDF":
        return "application/rdf+xml"
    if not xml_decl and name.lower() in _HTML_TAGS:
        return "text/html"
    return "application/xml"


_XHTML = "http://www.w3.org/1999/xhtml"
_XMLNS = re.compile(r"""xmlns(?::([\w.\-]+))?\s*=\s*["']([^"']*)["']""")


def _is_xhtml_root(name: str, rest: str) -> bool:
    """After an XML declaration names are case-sensitive: the root is XHTML only as `html` in no or the XHTML namespace.

    An `<HTML>` root, or an `html` element of another namespace, is some other XML vocabulary.
    """
    prefix, _, local = name.rpartition(":")
    if local != "html":
        return False
    tag = rest[: rest.find(">") + 1 or 4096]
    namespaces = {found.group(1) or "": found.group(2) for found in _XMLNS.finditer(tag)}
    return namespaces.get(prefix, "" if not prefix else None) in ("", _XHTML)


def _skip_doctype(rest: str) -> str:
    """What follows the DOCTYPE, whose internal subset (between brackets) may hold `>`; "" when it does not end.

    Only brackets and `>` matter, so the scan jumps from one to the next in
    C: an internal subset of long entity values is 20 times faster to pass.
    """
    depth = 0
    for mark in _DOCTYPE_MARKS.finditer(rest):
        if mark.group() == "[":
            depth += 1
        elif mark.group() == "]":
            depth -= 1
        elif depth <= 0:
            return rest[mark.end() :]
    return ""


_DOCTYPE_MARKS = re.compile(r"[\[\]>]")


def _is_json(body: str, complete: bool) -> bool:
    try:
        json.loads(body)
        return True
    except RecursionError:
        return True
    except ValueError as exc:
        error = exc
    if complete and _lenient_json(body):
        return True
    lines = [line for line in body.splitlines()[:5] if line.strip()]
    if len(lines) >= 2 and all(_json_line(line) for line in lines[: -1 if not complete else None]):
        return True  # NDJSON / JSON Lines
    if complete:
        return False
    pos = getattr(error, "pos", 0)
    return bool(pos >= len(body) - 2048 and body[1:].lstrip()[:1] in set('"{[]}-0123456789tfn'))


def _lenient_json(body: str) -> bool:
    """JSON that only trailing commas keep from parsing (as many writers produce)."""
    fixed = re.sub(r",(\s*[}\]])", r"\1", body)
    if fixed == body:
        return False
    try:
        json.loads(fixed)
    except (ValueError, RecursionError):
        return False
    return True


def _json_line(line: str) -> bool:
    line = line.strip()
    if not line.startswith(("{", "[")):
        return False
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]{1,40}):[ \t]?(.*)$")
_MAIL_HEADERS = {
    "from", "to", "cc", "subject", "date", "message-id", "received", "return-path", "mime-version",
    "content-type", "reply-to", "delivered-to", "x-mailer", "sender", "in-reply-to", "references",
    "dkim-signature", "authentication-results", "x-originating-ip", "thread-topic", "user-agent",
}  # fmt: skip


def _mail(body: str, ext: str | None) -> str | None:
    first, _, rest = body.partition("\n")
    if re.match(r"From \S+.*\d{4}", first):
        if ext not in ("eml", "msg"):
            return "application/mbox"
        body = rest
    names: set[str] = set()
    for line in body.splitlines()[:40]:
        if not line.strip():
            break
        if line[:1] in " \t":
            continue
        match = _HEADER_LINE.match(line)
        if not match:
            return None
        names.add(match.group(1).lower())
    known = names & _MAIL_HEADERS
    if len(known) >= 2 and (known & {"from", "received", "message-id", "return-path", "to", "date"}):
        return "message/rfc822"
    return None


def _delimited(text: str, complete: bool, ext: str | None) -> str | None:
    lines = text.splitlines(keepends=True)
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    found = best("".join(lines[:200]), regular_only=True)
    if found is not None:
        return "text/tab-separated-values" if found.delimiter == "\t" and ext != "csv" else "text/csv"
    if ext in ("csv", "tsv") and text.strip():
        return "text/csv" if ext == "csv" else "text/tab-separated-values"
    return None
