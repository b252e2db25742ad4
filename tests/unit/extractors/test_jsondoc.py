import codecs
import json
import random

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import jsondoc
from chalicelib.extraction.extractors.base import Source
from chalicelib.extraction.reader import bytes_reader


def run(data: bytes, name: str = "doc.json", mime: str = "application/json"):
    return jsondoc.extract(Source(bytes_reader(data), len(data), name, mime, data[:8192]))


def test_a_json_object_reports_keys_and_depth():
    out = run(json.dumps({"a": 1, "b": {"c": [1, 2]}, "d": "é"}).encode())
    assert out.fields == {"encoding": "us-ascii"}
    assert out.details["top_level_type"] == "object"
    assert out.details["key_count"] == 3
    assert out.details["keys"] == ["a", "b", "d"]
    assert out.details["depth"] == 3


def test_a_json_array_reports_item_count_and_types():
    out = run(b'[{"x": 1}, {"x": 2}, 3]')
    assert out.details["item_count"] == 3
    assert out.details["item_types"] == ["number", "object"]


def test_a_utf16_bom_json_is_decoded():
    out = run(codecs.BOM_UTF16_LE + '{"k": "v"}'.encode("utf-16-le"))
    assert out.fields["encoding"] == "utf-16le"
    assert out.details["bom"] is True
    assert out.details["key_count"] == 1


def test_deeply_unbalanced_nesting_is_corrupt_not_a_crash():
    with pytest.raises(ExtractionFailed) as failure:
        run(b"[" * 100_000)
    assert failure.value.code == "corrupt"


def test_deep_but_balanced_nesting_gets_a_depth_capped_description():
    out = run(b"[" * 50_000 + b"]" * 50_000)
    assert out.details["depth"] == 50_000
    assert out.details["shallow_scan"] is True
    assert out.details["item_count"] == 1


def test_json_with_a_trailing_comma_is_described_with_a_warning():
    out = run(b'{"a": [1, 2], "b": "x,y",}')
    assert out.details["key_count"] == 3  # the trailing comma counts an empty slot
    assert "not strict JSON" in out.warnings[0]


def test_text_that_is_not_json_is_corrupt():
    with pytest.raises(ExtractionFailed):
        run(b"hello world")


def test_ndjson_counts_lines_and_invalid_lines():
    data = b'{"id": 1, "name": "a"}\n{"id": 2}\n\nnot json\n{"id": 3}'
    out = run(data, "rows.ndjson")
    assert out.fields == {"encoding": "us-ascii", "row_count": 3}
    assert out.details["line_count"] == 4
    assert out.details["invalid_lines"] == 1
    assert out.details["blank_lines"] == 1
    assert out.details["keys"] == ["id", "name"]


def test_json_lines_under_a_json_name_are_recognised():
    out = run(b'{"a": 1}\n{"a": 2}\n')
    assert out.details["ndjson"] is True
    assert out.fields["row_count"] == 2


def test_files_above_the_parse_cap_get_a_streaming_scan(monkeypatch):
    monkeypatch.setattr(jsondoc, "PARSE_CAP", 100)
    monkeypatch.setattr(jsondoc, "CHUNK", 16)
    data = json.dumps([{"s": 'a,]\\"[b'}, [1, 2], 3] * 20).encode()
    out = run(data)
    assert out.details["shallow_scan"] is True
    assert out.details["item_count"] == 60
    assert out.details["depth"] == 2


def _scan_char_by_char(text: str) -> tuple[int, int, bool, int, bool]:
    """(depth, max depth, unbalanced, top-level commas, top-level item), read a character at a time."""
    depth = deepest = commas = 0
    unbalanced = in_string = escape = item = False
    for char in text:
        if depth == 1 and not in_string and not escape and char not in " \t\r\n\\]},":
            item = True
        if escape:
            escape = False
        elif in_string:
            escape, in_string = char == "\\", char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
            if depth < 0:
                unbalanced, depth = True, 0
        elif char == "," and depth == 1:
            commas += 1
    return depth, deepest, unbalanced, commas, item


@pytest.mark.parametrize("seed", range(20))
def test_the_shallow_scan_takes_runs_of_brackets_at_once_and_counts_as_one_character_at_a_time(seed: int) -> None:
    pick = random.Random(seed)
    pieces = ["[" * 500, "]" * 300, "]" * 900, "{{", "}}", "[", "]", ",", '"a,[]\\"}"', " 1", "\\", " "]
    text = "".join(pick.choice(pieces) for _ in range(300))
    scan = jsondoc._Scan()
    for start in range(0, len(text), 4096):  # chunked, as a large file is fed
        scan.feed(text[start : start + 4096])
    found = (scan.depth, scan.max_depth, scan.balanced_error, scan.top_items, scan.top_has_item)
    assert found == _scan_char_by_char(text)
