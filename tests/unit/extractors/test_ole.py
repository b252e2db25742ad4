import struct
from datetime import datetime

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import ole
from tests.unit.extractors._helpers import source
from tests.unit.extractors.cfb_fixture import DOCSUMMARY_FMTID, SUMMARY_FMTID, build, property_set

SUMMARY = "\x05SummaryInformation"
DOCSUMMARY = "\x05DocumentSummaryInformation"


def summary(**extra: object) -> bytes:
    props: dict[int, object] = {
        2: "Annual Plan",
        3: "Planning",
        4: "Marie Curie",
        5: "plan, budget",
        8: "Pierre",
        9: "7",
        12: datetime(2010, 11, 12, 16, 22),
        13: datetime(2010, 11, 13, 9, 0),
        14: 2,
        15: 122,
        18: "Microsoft Office Word",
    }
    props.update({int(k[1:]): v for k, v in extra.items()})
    return property_set(SUMMARY_FMTID, props)


def fib(encrypted: bool) -> bytes:
    return b"\xec\xa5" + b"\xc1\x00" + b"\0" * 6 + struct.pack("<H", 0x0100 if encrypted else 0) + b"\0" * 5000


def biff_record(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def boundsheet(name: str) -> bytes:
    return biff_record(0x0085, struct.pack("<IBB", 0, 0, 0) + bytes([len(name), 0]) + name.encode("latin-1"))


def workbook(*records: bytes) -> bytes:
    return biff_record(0x0809, struct.pack("<HH", 0x0600, 5) + b"\0" * 12) + b"".join(records) + biff_record(0x0A, b"")


def test_a_doc_reports_its_summary_properties():
    data = build({SUMMARY: summary(), "WordDocument": fib(False)})
    result = ole.extract(source(data, "application/msword"))
    assert result.fields == {
        "title": "Annual Plan",
        "subject": "Planning",
        "author": "Marie Curie",
        "keywords": "plan, budget",
        "created": "2010-11-12T16:22:00+00:00",
        "modified": "2010-11-13T09:00:00+00:00",
        "creator_tool": "Microsoft Office Word",
        "page_count": 2,
        "word_count": 122,
        "encrypted": False,
    }
    assert result.details["last_modified_by"] == "Pierre"
    assert result.details["revision"] == 7
    assert result.details["codepage"] == 1252
    assert result.details["document_kind"] == "document"


def test_a_doc_with_the_fib_encryption_bit_is_encrypted_and_still_processed():
    data = build({SUMMARY: summary(), "WordDocument": fib(True)})
    result = ole.extract(source(data, "application/msword"))
    assert result.fields["encrypted"] is True
    assert result.fields["author"] == "Marie Curie"
    assert result.warnings


def test_an_xls_names_its_sheets_from_boundsheet_records():
    data = build({SUMMARY: summary(), "Workbook": workbook(boundsheet("Q1"), boundsheet("Q2"))})
    result = ole.extract(source(data, "application/vnd.ms-excel"))
    assert result.details["sheet_names"] == ["Q1", "Q2"]
    assert result.fields["page_count"] == 2
    assert result.fields["encrypted"] is False


def test_an_xls_with_filepass_is_encrypted():
    data = build({SUMMARY: summary(), "Workbook": workbook(biff_record(0x2F, b"\x01\x00" * 10), boundsheet("Q1"))})
    result = ole.extract(source(data, "application/vnd.ms-excel"))
    assert result.fields["encrypted"] is True
    assert "sheet_names" not in result.details


def test_a_ppt_counts_its_slides():
    docsummary = property_set(DOCSUMMARY_FMTID, {7: 4})
    data = build({SUMMARY: summary(), DOCSUMMARY: docsummary, "PowerPoint Document": b"\0" * 100})
    result = ole.extract(source(data, "application/vnd.ms-powerpoint"))
    assert result.details["slide_count"] == 4
    assert result.fields["page_count"] == 4


def utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def test_an_outlook_msg_reports_sender_recipients_and_attachments():
    props = b"\0" * 32 + struct.pack("<IIQ", 0x00390040, 6, 132514428000000000)
    recip_props = b"\0" * 8 + struct.pack("<IIQ", 0x0C150003, 6, 1)
    cc_props = b"\0" * 8 + struct.pack("<IIQ", 0x0C150003, 6, 2)
    data = build(
        {
            "__properties_version1.0": props,
            "__substg1.0_0037001F": utf16("Lunch on Friday?"),
            "__substg1.0_0C1A001F": utf16("Alice Smith"),
            "__substg1.0_5D01001F": utf16("alice@example.com"),
            "__substg1.0_1035001F": utf16("<abc@example.com>"),
            "__substg1.0_001A001F": utf16("IPM.Note"),
            "__recip_version1.0_#00000000/__properties_version1.0": recip_props,
            "__recip_version1.0_#00000000/__substg1.0_3001001F": utf16("Bob"),
            "__recip_version1.0_#00000000/__substg1.0_39FE001F": utf16("bob@example.com"),
            "__recip_version1.0_#00000001/__properties_version1.0": cc_props,
            "__recip_version1.0_#00000001/__substg1.0_39FE001F": utf16("carol@example.com"),
            "__attach_version1.0_#00000000/__substg1.0_3707001F": utf16("menu.pdf"),
        }
    )
    result = ole.extract(source(data, "application/vnd.ms-outlook"))
    assert result.fields == {
        "subject": "Lunch on Friday?",
        "from": "Alice Smith <alice@example.com>",
        "to": ["Bob <bob@example.com>"],
        "cc": ["carol@example.com"],
        "sent_at": "2020-12-03T04:20:00+00:00",
        "attachment_count": 1,
        "encrypted": False,
    }
    assert result.details["attachment_names"] == ["menu.pdf"]
    assert result.details["message_id"] == "<abc@example.com>"


def test_bytes_that_are_not_ole_fail_as_corrupt():
    with pytest.raises(ExtractionFailed) as caught:
        ole.extract(source(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 600, "application/msword"))
    assert caught.value.code == "corrupt"


def test_an_unknown_encrypted_blob_fails_as_encrypted():
    with pytest.raises(ExtractionFailed) as caught:
        ole.extract(source(b"-----BEGIN PGP MESSAGE-----", "application/encrypted"))
    assert caught.value.code == "encrypted"


def word_with_dop(pages: int, table_name: str = "1Table") -> bytes:
    """A .doc whose SummaryInformation has no page count; the FIB points at a DOP stating `pages` (cPg)."""
    dop = bytearray(500)
    struct.pack_into("<iH", dop, 38, 321, 0)  # cWords, then cCh begins
    struct.pack_into("<H", dop, 46, pages)
    table = b"\0" * 700 + bytes(dop)
    header = bytearray(fib(encrypted=False)[:1024])
    struct.pack_into("<H", header, 0x0A, 0x0200 if table_name == "1Table" else 0)
    struct.pack_into("<II", header, 0x0192, 700, len(dop))
    no_pages = property_set(SUMMARY_FMTID, {2: "Report", 4: "Ann"})
    return build({"WordDocument": bytes(header) + b"\0" * 4000, table_name: table, SUMMARY: no_pages})


@pytest.mark.parametrize("table_name", ["1Table", "0Table"])
def test_a_doc_without_a_summary_page_count_takes_the_one_word_keeps_in_its_dop(table_name: str) -> None:
    out = ole.extract(source(word_with_dop(pages=12, table_name=table_name), "application/msword"))
    assert out.fields["page_count"] == 12
    assert out.fields["title"] == "Report"


def test_a_summary_page_count_wins_over_the_dop() -> None:
    data = build({"WordDocument": fib(encrypted=False), SUMMARY: summary()})
    assert ole.extract(source(data, "application/msword")).fields["page_count"] == 2
