from email.message import EmailMessage

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import email as email_extractor
from tests.unit.extractors._helpers import source


def message(subject: str = "=?utf-8?q?Caf=C3=A9_menu?=") -> bytes:
    msg = EmailMessage()
    msg["From"] = "=?utf-8?q?Ren=C3=A9e?= <renee@example.com>"
    msg["To"] = "bob@example.com, Carol <carol@example.com>"
    msg["Cc"] = "dave@example.com"
    msg["Subject"] = "placeholder"
    msg["Date"] = "Tue, 01 Mar 2022 10:00:00 +0100"
    msg["Message-ID"] = "<m1@example.com>"
    msg.set_content("Hello")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="menu.pdf")
    msg.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="logo.png")
    data = msg.as_bytes()
    return data.replace(b"Subject: placeholder", b"Subject: " + subject.encode())


def test_an_eml_reports_decoded_headers_and_attachments():
    result = email_extractor.extract(source(message(), "message/rfc822"))
    assert result.fields == {
        "subject": "Café menu",
        "from": "Renée <renee@example.com>",
        "to": ["bob@example.com", "Carol <carol@example.com>"],
        "cc": ["dave@example.com"],
        "sent_at": "2022-03-01T10:00:00+01:00",
        "attachment_count": 2,
    }
    assert result.details["message_id"] == "<m1@example.com>"
    assert result.details["attachment_names"] == ["menu.pdf", "logo.png"]


def test_a_saved_message_with_an_mbox_envelope_line_still_parses():
    data = b"From renee@example.com Tue Mar  1 10:00:00 2022\n" + message()
    assert email_extractor.extract(source(data, "message/rfc822")).fields["attachment_count"] == 2


def test_an_mbox_counts_its_messages_and_reports_the_first():
    first = b"From a@example.com Mon Jan  3 00:00:00 2022\nFrom: a@example.com\nSubject: one\n\nbody\n\n"
    second = b"From b@example.com Mon Jan  3 00:00:00 2022\nFrom: b@example.com\nSubject: two\n\nbody\n"
    result = email_extractor.extract(source(first + second + second, "application/mbox"))
    assert result.fields == {"entry_count": 3}
    assert result.details["message_count"] == 3
    assert result.details["first_message"]["subject"] == "one"


def test_parsing_stops_at_the_cap_with_a_warning(monkeypatch):
    monkeypatch.setattr(email_extractor, "MAX_PARSE_BYTES", 200)
    result = email_extractor.extract(source(message(), "message/rfc822"))
    assert result.fields["subject"] == "Café menu"
    assert any("first 200 bytes" in warning for warning in result.warnings)


def test_bytes_without_headers_fail_as_corrupt():
    with pytest.raises(ExtractionFailed) as caught:
        email_extractor.extract(source(b"\n\njust text", "message/rfc822"))
    assert caught.value.code == "corrupt"
