import io
import zipfile

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import office, ole
from tests.unit.extractors._helpers import source
from tests.unit.extractors.cfb_fixture import build

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"

RELS = """<?xml version="1.0"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
 Target="{main}"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
 Target="docProps/core.xml"/>
<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties"
 Target="docProps/app.xml"/>
<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
 Target="docProps/custom.xml"/>
</Relationships>"""

CORE = """<?xml version="1.0"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<dc:title>Quarterly report</dc:title><dc:creator>Ada Lovelace</dc:creator><dc:subject>Finance</dc:subject>
<cp:keywords>q1, revenue</cp:keywords><dc:language>en-GB</dc:language><cp:lastModifiedBy>Charles</cp:lastModifiedBy>
<cp:revision>4</cp:revision>
<dcterms:created xsi:type="dcterms:W3CDTF">2021-03-04T05:06:07Z</dcterms:created>
<dcterms:modified xsi:type="dcterms:W3CDTF">2021-03-05T08:00:00+02:00</dcterms:modified>
</cp:coreProperties>"""

APP = """<?xml version="1.0"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
 xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">
<Application>Microsoft Office Word</Application><AppVersion>16.0000</AppVersion><Pages>3</Pages><Words>420</Words>
<Characters>2500</Characters><Paragraphs>12</Paragraphs><Company>Analytical Engines</Company>
<Template>Normal.dotm</Template><Slides>5</Slides></Properties>"""

CUSTOM = """<?xml version="1.0"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
 xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">
<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Client"><vt:lpwstr>Babbage</vt:lpwstr></property>
</Properties>"""

WORKBOOK = """<?xml version="1.0"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets>
<sheet name="Budget" sheetId="1"/><sheet name="Actuals" sheetId="2"/></sheets></workbook>"""


def package(members: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def ooxml(main: str, **extra: str | bytes) -> bytes:
    members: dict[str, str | bytes] = {
        "[Content_Types].xml": "<Types/>",
        "_rels/.rels": RELS.format(main=main),
        "docProps/core.xml": CORE,
        "docProps/app.xml": APP,
        "docProps/custom.xml": CUSTOM,
        main: "<document/>",
    }
    members.update(extra)
    return package(members)


def test_a_docx_reports_its_core_and_app_properties():
    result = office.extract(source(ooxml("word/document.xml"), DOCX))
    assert result.fields == {
        "title": "Quarterly report",
        "author": "Ada Lovelace",
        "subject": "Finance",
        "keywords": "q1, revenue",
        "language": "en-GB",
        "created": "2021-03-04T05:06:07+00:00",
        "modified": "2021-03-05T08:00:00+02:00",
        "creator_tool": "Microsoft Office Word 16.0000",
        "page_count": 3,
        "word_count": 420,
        "encrypted": False,
    }
    assert result.details["last_modified_by"] == "Charles"
    assert result.details["revision"] == 4
    assert result.details["company"] == "Analytical Engines"
    assert result.details["character_count"] == 2500
    assert result.details["custom_properties"] == {"Client": "Babbage"}
    assert result.details["macros"] is False


def test_an_xlsx_names_its_sheets_and_counts_them_as_pages():
    data = ooxml("xl/workbook.xml", **{"xl/workbook.xml": WORKBOOK})
    result = office.extract(source(data, XLSX))
    assert result.details["sheet_names"] == ["Budget", "Actuals"]
    assert result.details["sheet_count"] == 2
    assert result.fields["page_count"] == 2


def test_a_pptx_counts_its_slides_as_pages():
    result = office.extract(source(ooxml("ppt/presentation.xml"), PPTX))
    assert result.details["slide_count"] == 5
    assert result.fields["page_count"] == 5


def test_a_macro_enabled_document_reports_its_vba_project():
    data = ooxml("word/document.xml", **{"word/vbaProject.bin": b"\0" * 10})
    assert office.extract(source(data, DOCX)).details["macros"] is True


def test_an_oversized_member_is_skipped_with_a_warning(monkeypatch):
    monkeypatch.setattr(office, "MAX_MEMBER_BYTES", 100)
    result = office.extract(source(ooxml("word/document.xml"), DOCX))
    assert "title" not in result.fields
    assert any("cap" in warning for warning in result.warnings)


def test_an_entity_bomb_in_core_xml_is_refused_not_expanded():
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><cp:coreProperties>&a;</cp:coreProperties>'
    data = ooxml("word/document.xml", **{"docProps/core.xml": bomb})
    result = office.extract(source(data, DOCX))
    assert "title" not in result.fields
    assert any("docProps/core.xml" in warning for warning in result.warnings)


def test_a_file_that_is_not_a_zip_fails_as_corrupt():
    with pytest.raises(ExtractionFailed) as caught:
        office.extract(source(b"PK\x03\x04 not really", DOCX))
    assert caught.value.code == "corrupt"


def test_an_odt_reports_meta_xml():
    meta = """<?xml version="1.0"?>
<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0">
<office:meta><meta:initial-creator>Grace Hopper</meta:initial-creator><dc:creator>Editor</dc:creator>
<dc:title>Compilers</dc:title><meta:keyword>cobol</meta:keyword><meta:keyword>navy</meta:keyword>
<meta:creation-date>2020-01-02T03:04:05.123456789</meta:creation-date><dc:language>en-US</dc:language>
<meta:generator>LibreOffice/7.3</meta:generator><meta:editing-cycles>3</meta:editing-cycles>
<meta:document-statistic meta:page-count="2" meta:word-count="150" meta:paragraph-count="9"/>
<meta:user-defined meta:name="Project">A-0</meta:user-defined></office:meta></office:document-meta>"""
    data = package({"mimetype": ODT, "meta.xml": meta, "META-INF/manifest.xml": "<manifest/>"})
    result = office.extract(source(data, ODT))
    assert result.fields == {
        "encrypted": False,
        "title": "Compilers",
        "author": "Grace Hopper",
        "keywords": "cobol, navy",
        "language": "en-US",
        "created": "2020-01-02T03:04:05.123456+00:00",
        "creator_tool": "LibreOffice/7.3",
        "word_count": 150,
        "page_count": 2,
    }
    assert result.details["last_modified_by"] == "Editor"
    assert result.details["revision"] == 3
    assert result.details["custom_properties"] == {"Project": "A-0"}


def test_an_encrypted_odt_is_reported_as_encrypted():
    manifest = '<manifest:manifest xmlns:manifest="urn:x"><manifest:encryption-data/></manifest:manifest>'
    data = package({"mimetype": ODT, "meta.xml": b"\x8f\x00garbage", "META-INF/manifest.xml": manifest})
    result = office.extract(source(data, ODT))
    assert result.fields["encrypted"] is True
    assert result.warnings


def test_a_password_protected_ooxml_file_is_encrypted_not_failed():
    agile = b"\x04\x00\x04\x00" + b"\x40\x00\x00\x00" + b"<encryption/>"
    data = build({"EncryptionInfo": agile, "EncryptedPackage": b"\x10" * 600})
    result = office.extract(source(data, DOCX))
    assert result.fields == {"encrypted": True}
    assert result.details == {"container": "ole", "encryption": "agile"}
    assert ole.extract(source(data, "application/encrypted")).fields == {"encrypted": True}


SXW_META = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE office:document-meta PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "office.dtd">
<office:document-meta xmlns:office="http://openoffice.org/2000/office" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:meta="http://openoffice.org/2000/meta" office:version="1.0"><office:meta>
<meta:generator>OpenOffice.org 1.1.5 (Linux)</meta:generator><dc:title>Minutes</dc:title>
<meta:initial-creator>Ada</meta:initial-creator><meta:creation-date>2004-05-06T07:08:09</meta:creation-date>
<dc:language>de-DE</dc:language><meta:keywords><meta:keyword>board</meta:keyword>
<meta:keyword>2004</meta:keyword></meta:keywords><meta:document-statistic meta:page-count="3" meta:word-count="420"/>
</office:meta></office:document-meta>"""


def test_an_openoffice_1_writer_file_reports_its_meta_xml() -> None:
    from chalicelib.extraction import detect
    from chalicelib.extraction.extractors import registry
    from chalicelib.extraction.reader import bytes_reader

    sxw = "application/vnd.sun.xml.writer"
    data = package({"mimetype": sxw, "meta.xml": SXW_META, "content.xml": "<office:document-content/>"})
    assert detect.detect(data[:8192], bytes_reader(data), "minutes.sxw").mime_type == sxw
    assert registry.lookup(sxw).family == "office"
    result = office.extract(source(data, sxw))
    assert (result.fields["title"], result.fields["author"], result.fields["keywords"]) == (
        "Minutes",
        "Ada",
        "board, 2004",
    )
    assert (result.fields["page_count"], result.fields["word_count"], result.fields["language"]) == (3, 420, "de-DE")
    assert result.fields["creator_tool"] == "OpenOffice.org 1.1.5 (Linux)"
    assert result.details["document_kind"] == "document"


def presentation(mimetype: str, draw_ns: str, slides: int) -> bytes:
    pages = "".join(f'<draw:page draw:name="s{index}"><draw:frame/></draw:page>' for index in range(slides))
    content = (
        f'<office:document-content xmlns:office="urn:x-office" xmlns:draw="{draw_ns}">'
        f"<office:body><office:presentation>{pages}</office:presentation></office:body></office:document-content>"
    )
    meta = SXW_META.replace('<meta:document-statistic meta:page-count="3" meta:word-count="420"/>', "")
    return package({"mimetype": mimetype, "meta.xml": meta, "content.xml": content})


@pytest.mark.parametrize(
    ("mimetype", "draw_ns"),
    [
        ("application/vnd.oasis.opendocument.presentation", "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"),
        ("application/vnd.sun.xml.impress", "http://openoffice.org/2000/drawing"),
    ],
)
def test_an_odp_and_an_sxi_count_their_slides_from_content_xml(mimetype: str, draw_ns: str) -> None:
    result = office.extract(source(presentation(mimetype, draw_ns, 7), mimetype))
    assert result.fields["page_count"] == 7
    assert result.details["slide_count"] == 7
    assert result.details["document_kind"] == "presentation"


def test_an_sxc_is_a_spreadsheet() -> None:
    sxc = "application/vnd.sun.xml.calc"
    meta = SXW_META.replace('meta:page-count="3"', 'meta:table-count="2"')
    result = office.extract(source(package({"mimetype": sxc, "meta.xml": meta}), sxc))
    assert (result.details["document_kind"], result.fields["page_count"]) == ("spreadsheet", 2)
