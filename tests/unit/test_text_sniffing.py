"""Detection and extraction read the same bytes the same way: one encoding answer, one delimiter answer."""

from __future__ import annotations

import codecs
import random

import pytest

from chalicelib.extraction.detect import detect
from chalicelib.extraction.encoding import sniff_encoding
from chalicelib.extraction.extractors import tabular
from chalicelib.extraction.reader import bytes_reader
from chalicelib.extraction.textkind import _skip_doctype

TEXT = "Name, city and a remark\nAda, London, first programmer\nGrace, Arlington, compilers\n"
SAMPLES = {
    "ascii": TEXT.encode("ascii"),
    "utf-8": "Zoë, Köln, naïve café\n".encode(),
    "utf-8 with a mark": codecs.BOM_UTF8 + TEXT.encode(),
    "utf-16le with a mark": codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
    "utf-16be without a mark": TEXT.encode("utf-16-be"),
    "utf-32le without a mark": TEXT.encode("utf-32-le"),
    "utf-32be with a mark": codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"),
    "windows-1252": "Voilà une phrase française, très ordinaire, à l'été.\n".encode("cp1252"),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_detection_and_extraction_name_the_same_encoding_for_the_same_bytes(name: str) -> None:
    data = SAMPLES[name]
    found = detect(data, bytes_reader(data))
    assert found.encoding == sniff_encoding(data, complete=True).name


def test_utf32_text_without_a_mark_is_not_taken_for_utf8_by_extraction() -> None:
    assert sniff_encoding(TEXT.encode("utf-32-le"), complete=True).name == "utf-32le"
    assert sniff_encoding(TEXT.encode("utf-32-be"), complete=True).name == "utf-32be"


# each line holds one comma inside a tab-separated record of five fields; one record lacks a field
_TABS_WITH_COMMAS = "".join(f"id {i}\tname, given\tx\ty\tz\n" for i in range(19)) + "id 19\tname, given\tx\ty\n"
_DELIMITED = {
    "commas": "a,b,c\n1,2,3\n4,5,6\n",
    "tabs": "a\tb\tc\n1\t2\t3\n4\t5\t6\n",
    "semicolons with decimal commas": "a;b;c\n1,5;2,5;3\n4,1;5,2;6\n7,3;8,4;9\n",
    "tabs around commas": _TABS_WITH_COMMAS,
}


@pytest.mark.parametrize("name", sorted(_DELIMITED))
def test_detection_and_the_csv_extractor_agree_on_tab_or_not(name: str) -> None:
    data = _DELIMITED[name].encode()
    detected = detect(data, bytes_reader(data)).mime_type
    assert detected in ("text/csv", "text/tab-separated-values")
    fmt = tabular.sniff(data, complete=True)
    assert (fmt.delimiter == "\t") == (detected == "text/tab-separated-values")


def _skip_doctype_a_character_at_a_time(rest: str) -> str:
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ">" and depth <= 0:
            return rest[i + 1 :]
    return ""


@pytest.mark.parametrize("seed", range(40))
def test_a_doctype_ends_where_a_scan_of_every_character_says(seed: int) -> None:
    draw = random.Random(seed)
    pieces = ["<!DOCTYPE r", " [", "]", ">", "<!ENTITY a '", "x" * 50, "'>", "]]", "[[", "<r/>", "\n"]
    rest = "".join(draw.choice(pieces) for _ in range(draw.randrange(0, 60)))
    assert _skip_doctype(rest) == _skip_doctype_a_character_at_a_time(rest)
