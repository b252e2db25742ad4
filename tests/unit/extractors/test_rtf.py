import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import rtf
from tests.unit.extractors._helpers import source

DOC = (
    rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Times;}}"
    rb"{\info{\title Caf\'e9 \ldblquote menu\rdblquote}{\author Jean \{the chef\}}{\subject Food}"
    rb"{\keywords lunch, dinner}{\operator Marie}{\*\company Bistro}"
    rb"{\creatim\yr2006\mo5\dy18\hr12\min19}{\revtim\yr2007\mo1\dy2\hr3\min4\sec5}"
    rb"{\version2}{\nofpages3}{\nofwords250}{\nofchars1400}}"
    rb"\pard Hello\par}"
)


def test_an_rtf_reports_its_info_group():
    result = rtf.extract(source(DOC, "text/rtf"))
    assert result.fields == {
        "title": "Café \u201cmenu\u201d",
        "author": "Jean {the chef}",
        "subject": "Food",
        "keywords": "lunch, dinner",
        "created": "2006-05-18T12:19:00+00:00",
        "modified": "2007-01-02T03:04:05+00:00",
        "page_count": 3,
        "word_count": 250,
        "encoding": "cp1252",
    }
    assert result.details == {
        "codepage": 1252,
        "last_modified_by": "Marie",
        "company": "Bistro",
        "revision": 2,
        "character_count": 1400,
    }


def test_double_byte_code_pages_decode_byte_pairs_together():
    data = rb"{\rtf1\ansi\ansicpg932{\info{\title \'83\'5e\'83\'43\'83\'67\'83\'8b}}}"
    assert rtf.extract(source(data, "text/rtf")).fields["title"] == "タイトル"


def test_unicode_escapes_replace_their_ansi_fallback():
    data = rb"{\rtf1\ansi{\info{\upr{\title ??}{\*\ud{\title \u12478\'3f\u12523\'3f}}}}}"
    assert rtf.extract(source(data, "text/rtf")).fields["title"] == "ゾル"


def test_an_rtf_without_info_reports_only_its_encoding():
    result = rtf.extract(source(rb"{\rtf1\ansi\ansicpg1250 Hello}", "text/rtf"))
    assert result.fields == {"encoding": "cp1250"}


def test_deeply_nested_groups_stop_with_a_warning():
    data = rb"{\rtf1{\info{\title x" + b"{" * 500 + b"}" * 500 + b"}}}"
    result = rtf.extract(source(data, "text/rtf"))
    assert any("nested" in warning for warning in result.warnings)


def test_a_file_that_is_not_rtf_fails_as_corrupt():
    with pytest.raises(ExtractionFailed) as caught:
        rtf.extract(source(b"hello", "text/rtf"))
    assert caught.value.code == "corrupt"
