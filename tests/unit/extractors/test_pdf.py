import io

import pytest
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, StreamObject

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import pdf
from tests.unit.extractors._helpers import source

XMP = b"""<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<pdfaid:part>2</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Title from XMP</rdf:li></rdf:Alt></dc:title>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def document(pages: int = 2, metadata: dict[str, str] | None = None) -> PdfWriter:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    if metadata:
        writer.add_metadata(metadata)
    return writer


def to_bytes(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_a_pdf_reports_its_info_dictionary_and_page_count():
    writer = document(
        3,
        {
            "/Title": "Annual report",
            "/Author": "Jane Doe",
            "/Subject": "Results",
            "/Keywords": "finance, 2024",
            "/Creator": "Writer",
            "/Producer": "LibreOffice 7.6",
            "/CreationDate": "D:20240102030405+01'00'",
            "/ModDate": "D:20240203040506Z",
        },
    )
    result = pdf.extract(source(to_bytes(writer), "application/pdf"))
    assert result.fields == {
        "encrypted": False,
        "page_count": 3,
        "title": "Annual report",
        "author": "Jane Doe",
        "subject": "Results",
        "keywords": "finance, 2024",
        "creator_tool": "Writer",
        "producer": "LibreOffice 7.6",
        "created": "2024-01-02T03:04:05+01:00",
        "modified": "2024-02-03T04:05:06+00:00",
    }
    assert result.details["version"] == "1.3"
    assert result.details["linearized"] is False


def test_a_pdf_with_a_user_password_is_processed_as_encrypted_with_a_warning():
    writer = document(1, {"/Title": "Secret"})
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="RC4-128")
    result = pdf.extract(source(to_bytes(writer), "application/pdf"))
    assert result.fields == {"encrypted": True}
    assert result.details["encryption"] == "Standard V2 R3 128-bit"
    assert any("user password" in warning for warning in result.warnings)


def test_an_aes_256_pdf_with_an_empty_user_password_is_read_in_full():
    writer = document(2, {"/Title": "Open but owner-protected"})
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")
    result = pdf.extract(source(to_bytes(writer), "application/pdf"))
    assert result.fields["encrypted"] is True
    assert result.fields["page_count"] == 2
    assert result.fields["title"] == "Open but owner-protected"
    assert result.details["encryption"] == "Standard V5 R6 256-bit"
    assert result.warnings == []


def test_pdfa_conformance_and_xmp_fallbacks_come_from_xmp():
    writer = document(1)
    stream = StreamObject()
    stream.set_data(XMP)
    stream.update({NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")})
    writer._root_object[NameObject("/Metadata")] = writer._add_object(stream)
    result = pdf.extract(source(to_bytes(writer), "application/pdf"))
    assert result.details["xmp"] is True
    assert result.details["pdfa"] == "2B"
    assert result.fields["title"] == "Title from XMP"


def test_form_fields_are_counted():
    writer = document(1)
    fields = ArrayObject()
    for name in ("a", "b"):
        field = DictionaryObject({NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): NameObject(f"/{name}")})
        fields.append(writer._add_object(field))
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): fields})
    result = pdf.extract(source(to_bytes(writer), "application/pdf"))
    assert result.details["form_fields"] == 2


def test_the_page_count_comes_from_the_tree_root_without_walking_pages():
    data = to_bytes(document(40))
    reader_source = source(data, "application/pdf")
    assert pdf.extract(reader_source).fields["page_count"] == 40


def test_a_truncated_pdf_fails_as_corrupt():
    with pytest.raises(ExtractionFailed) as caught:
        pdf.extract(source(b"%PDF-1.4\n1 0 obj\n<<", "application/pdf"))
    assert caught.value.code == "corrupt"


def test_pdf_dates_keep_their_offsets():
    assert pdf.parse_pdf_date("D:20230410074654-06'00'") == "2023-04-10T07:46:54-06:00"
    assert pdf.parse_pdf_date("garbage") is None
