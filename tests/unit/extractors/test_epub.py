import io
import zipfile

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import epub
from tests.unit.extractors._helpers import source

CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

OPF = """<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:identifier id="uid">urn:isbn:9780000000001</dc:identifier><dc:identifier>other-id</dc:identifier>
<dc:title id="t1">The Book</dc:title><dc:title id="t2">The Book: A Subtitle</dc:title>
<meta refines="#t2" property="title-type">extended</meta>
<dc:creator>Jane Austen</dc:creator><dc:creator>Co Author</dc:creator>
<dc:language>en</dc:language><dc:publisher>Penguin</dc:publisher><dc:subject>Fiction</dc:subject>
<meta property="dcterms:modified">2020-05-06T07:08:09Z</meta>
</metadata>
<manifest><item id="a" href="a.xhtml"/><item id="b" href="b.xhtml"/><item id="c" href="c.css"/></manifest>
<spine><itemref idref="a"/><itemref idref="b"/></spine>
</package>"""


def book(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_an_epub_reports_its_package_metadata():
    data = book({"META-INF/container.xml": CONTAINER, "OEBPS/content.opf": OPF})
    result = epub.extract(source(data, "application/epub+zip"))
    assert result.fields == {
        "title": "The Book: A Subtitle",
        "author": "Jane Austen; Co Author",
        "subject": "Fiction",
        "language": "en",
        "modified": "2020-05-06T07:08:09+00:00",
    }
    assert result.details["publisher"] == "Penguin"
    assert result.details["identifier"] == "urn:isbn:9780000000001"
    assert result.details["spine_items"] == 2
    assert result.details["authors"] == ["Jane Austen", "Co Author"]


def test_an_epub_without_a_container_fails_as_corrupt():
    with pytest.raises(ExtractionFailed) as caught:
        epub.extract(source(book({"OEBPS/content.opf": OPF}), "application/epub+zip"))
    assert caught.value.code == "corrupt"
