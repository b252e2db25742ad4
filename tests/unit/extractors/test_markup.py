import gzip
import time

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import markup
from chalicelib.extraction.extractors.base import Source
from chalicelib.extraction.reader import bytes_reader


def run(data: bytes, mime: str, name: str = "doc"):
    return markup.extract(Source(bytes_reader(data), len(data), name, mime, data[:8192]))


HTML = b"""<!DOCTYPE html><html lang="fr"><head>
<meta charset="windows-1252"><title> Le  titre </title>
<meta name="description" content="Une page"><meta name="keywords" content="a, b">
<meta name="author" content="Marie Curie"><meta name="generator" content="Hugo 0.1">
<link rel="stylesheet" href="s.css"><script src="x.js"></script></head>
<body><a href="/1">un</a><a href="/2">\xe9t\xe9</a><img src="i.png"></body></html>"""


def test_an_html_page_reports_its_head_metadata_and_counts():
    out = run(HTML, "text/html")
    assert out.fields == {
        "title": "Le titre",
        "author": "Marie Curie",
        "keywords": "a, b",
        "language": "fr",
        "creator_tool": "Hugo 0.1",
        "encoding": "windows-1252",
    }
    assert out.details["description"] == "Une page"
    assert (out.details["link_count"], out.details["script_count"], out.details["image_count"]) == (2, 1, 1)
    assert out.details["stylesheet_count"] == 1


def test_html_in_utf16_with_a_bom_is_decoded():
    data = "\ufeff<html><head><title>Titre</title></head></html>".encode("utf-16-le")
    out = run(data, "text/html")
    assert out.fields["title"] == "Titre"
    assert out.fields["encoding"] == "utf-16le"


def test_html_dublin_core_meta_names_fill_author_and_subject():
    data = (
        b'<html><head><meta name="dc:creator" content="A"><meta name="dc:creator" content="B">'
        b'<meta name="DC.subject" content="Maths"></head></html>'
    )
    out = run(data, "text/html")
    assert out.fields["author"] == "A; B"
    assert out.fields["subject"] == "Maths"


def test_xml_reports_root_namespaces_encoding_and_dublin_core():
    data = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<r:record xmlns:r="urn:x" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:title>Un \xe9t\xe9</dc:title><dc:creator>Ana</dc:creator></r:record>"""
    out = run(data, "application/xml")
    assert out.fields == {"encoding": "iso-8859-1", "title": "Un été", "author": "Ana"}
    assert out.details["root_element"] == "record"
    assert out.details["root_namespace"] == "urn:x"
    assert out.details["namespaces"] == {"r": "urn:x", "dc": "http://purl.org/dc/elements/1.1/"}
    assert out.details["doctype"] is False


def test_xml_in_a_multibyte_encoding_expat_lacks_is_transcoded():
    data = '<?xml version="1.0" encoding="Shift_JIS"?><feed><title>日本語</title></feed>'.encode("shift_jis")
    out = run(data, "application/xml")
    assert out.fields["encoding"] == "shift_jis"
    assert out.details["root_element"] == "feed"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lolz>&lol3;</lolz>"""


def test_entity_declarations_are_refused_before_any_expansion():
    started = time.monotonic()
    out = run(BILLION_LAUGHS, "application/xml")
    assert time.monotonic() - started < 1
    assert out.details["refused"] == "EntitiesForbidden"
    assert out.details["root_element"] == "lolz"
    assert out.warnings


def test_an_external_entity_is_never_resolved():
    data = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    out = run(data, "application/xml")
    assert out.details["refused"] == "EntitiesForbidden"
    assert "root" not in str(out.fields)


def test_a_plain_doctype_is_recorded_not_refused():
    data = (
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://x/svg11.dtd"><svg xmlns="http://www.w3.org/2000/svg"/>'
    )
    out = run(data, "image/svg+xml")
    assert out.details["doctype_name"] == "svg"
    assert "refused" not in out.details


def test_bytes_that_are_not_xml_are_corrupt():
    with pytest.raises(ExtractionFailed) as failure:
        run(b"\x00\x01not xml at all", "application/xml")
    assert failure.value.code == "corrupt"


SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" width="2in" height="30mm" viewBox="0 0 192 113" version="1.1">
<title>Logo</title><script>alert(1)</script></svg>"""


def test_an_svg_reports_size_in_pixels_title_and_script():
    out = run(SVG, "image/svg+xml")
    assert out.fields["width"] == 192
    assert out.fields["height"] == 113
    assert out.fields["title"] == "Logo"
    assert out.details["svg_width"] == "2in"
    assert out.details["view_box"] == "0 0 192 113"
    assert out.details["has_script"] is True


def test_an_svg_without_width_takes_its_size_from_the_view_box():
    data = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640.4 480" onload="x()"/>'
    out = run(data, "image/svg+xml")
    assert (out.fields["width"], out.fields["height"]) == (640, 480)
    assert out.details["has_script"] is True


def test_a_gzipped_svg_is_read_through_the_compression():
    out = run(gzip.compress(SVG), "image/svg+xml", "logo.svgz")
    assert out.fields["title"] == "Logo"
    assert out.details["compressed"] is True
