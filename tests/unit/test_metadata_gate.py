"""Every metadata map that reaches the table is something DynamoDB stores and reads back, within bounds."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.aws.metadata_gate import (
    CORE_FIELDS,
    EMPTY_KEY,
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_KEY_BYTES,
    MAX_METADATA_BYTES,
    MAX_TEXT_BYTES,
    MAX_WARNINGS,
    admit,
    admit_error,
    admit_warnings,
    stored_size,
)
from chalicelib.aws.table import dump_value, to_dynamo_value

# text with everything a file can say: lone surrogates, NULs, any plane
texts = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=16)
long_keys = st.builds(lambda n, c: c * n, st.integers(min_value=200, max_value=400), st.sampled_from(["k", "é", "😀"]))
keys = st.one_of(texts, st.just(""), st.integers(), st.none(), long_keys)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    texts,
    st.binary(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(keys, inner, max_size=6), st.tuples(inner, inner)
    ),
    max_leaves=25,
)
metadata_maps = st.dictionaries(keys, values, max_size=10)


def _walk(value: Any, depth: int = 0) -> Any:
    """Yield (depth, key or None, value) for every node."""
    yield depth, None, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield depth, key, item
            yield from _walk(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, depth + 1)


def assert_storable(metadata: dict[str, Any]) -> None:
    json.dumps(metadata, allow_nan=False)
    dump_value(to_dynamo_value(metadata))  # boto3's serializer takes it: no float, no NaN, no >38-digit number
    assert stored_size(metadata) <= MAX_METADATA_BYTES
    for depth, key, value in _walk(metadata):
        assert depth <= MAX_DEPTH
        if key is not None:
            assert isinstance(key, str) and key
            assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
        if isinstance(value, str):
            assert len(value.encode("utf-8")) <= MAX_TEXT_BYTES
        if isinstance(value, (dict, list)):
            assert len(value) <= MAX_ENTRIES
        if isinstance(value, float):
            assert math.isfinite(value) and (value == 0 or 1e-130 <= abs(value) < 1e126)
        if isinstance(value, int) and not isinstance(value, bool):
            assert abs(value) < 10**38
        assert value is None or isinstance(value, (bool, int, float, str, dict, list))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(metadata_maps)
def test_whatever_an_extractor_returns_comes_out_storable_and_bounded(metadata: dict[Any, Any]) -> None:
    admitted = admit(metadata)
    assert_storable(admitted.metadata)
    assert all(isinstance(note, str) for note in admitted.notes)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(metadata_maps)
def test_admitting_twice_changes_nothing_more(metadata: dict[Any, Any]) -> None:
    once = admit(metadata)
    twice = admit(once.metadata)
    assert twice.metadata == once.metadata and twice.notes == []


plain_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(plain_text.filter(bool), st.one_of(plain_text, st.integers(-(10**30), 10**30)), max_size=8))
def test_plain_metadata_passes_unchanged(metadata: dict[str, Any]) -> None:
    admitted = admit(metadata)
    assert admitted.metadata == metadata and admitted.notes == []


def test_an_xml_default_namespace_keeps_its_uri_under_a_named_key() -> None:
    details = {"namespaces": {"": "http://www.w3.org/2000/svg", "xlink": "http://www.w3.org/1999/xlink"}}
    admitted = admit({"mime_type": "image/svg+xml", "details": details})
    assert admitted.metadata["details"]["namespaces"] == {
        EMPTY_KEY: "http://www.w3.org/2000/svg",
        "xlink": "http://www.w3.org/1999/xlink",
    }
    assert admitted.notes == []


def test_keys_that_become_equal_stay_apart() -> None:
    admitted = admit({"": 1, EMPTY_KEY: 2, 3: "three", "3": "also three"})
    assert admitted.metadata == {EMPTY_KEY: 1, f"{EMPTY_KEY}~2": 2, "3": "three", "3~2": "also three"}


def test_lone_surrogates_become_replacement_characters() -> None:
    admitted = admit({"title\ud800": "a\udfffb"})
    assert admitted.metadata == {"title\ufffd": "a\ufffdb"}


def test_numbers_dynamodb_cannot_hold_become_text() -> None:
    admitted = admit({"nan": math.nan, "inf": math.inf, "huge": 10**40, "tiny": 1e-300, "ok": 2.5, "d": Decimal("7")})
    assert admitted.metadata == {"nan": "nan", "inf": "inf", "huge": str(10**40), "tiny": "1e-300", "ok": 2.5, "d": 7}


def test_a_500_kb_metadata_map_keeps_its_core_fields_and_names_what_was_left_out() -> None:
    core = {"mime_type": "application/pdf", "family": "pdf", "size": 123, "sha256": "ab" * 32, "title": "Report"}
    details = {"xmp": {f"field{i}": "x" * 1000 for i in range(400)}, "page_labels": ["i", "ii"], "pages": 2}
    admitted = admit({**core, "details": details})
    assert stored_size(admitted.metadata) <= MAX_METADATA_BYTES
    assert {k: admitted.metadata[k] for k in core} == core
    assert admitted.metadata["details"] == {"page_labels": ["i", "ii"], "pages": 2}
    xmp = stored_size(details["xmp"]) // 1024
    assert admitted.notes == [f"metadata: left out to stay within the stored size limit: details.xmp ({xmp} KB)"]


def test_core_fields_are_never_left_out_even_when_other_fields_are_huge() -> None:
    admitted = admit({"mime_type": "text/plain", "size": 1, "keywords": ["k" * 1000] * 400})
    assert admitted.metadata == {"mime_type": "text/plain", "size": 1}
    assert set(CORE_FIELDS) >= {"mime_type", "size"}


def test_nesting_past_the_limit_is_left_out_with_a_note() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(MAX_DEPTH + 5):
        node["d"] = {}
        node = node["d"]
    admitted = admit({"details": deep})
    assert_storable(admitted.metadata)
    assert any("nested more than" in note for note in admitted.notes)


def test_long_texts_are_cut_at_a_character_boundary() -> None:
    admitted = admit({"comment": "é" * MAX_TEXT_BYTES})
    assert len(admitted.metadata["comment"].encode()) <= MAX_TEXT_BYTES
    assert admitted.metadata["comment"] == "é" * (MAX_TEXT_BYTES // 2)
    assert admitted.notes == ["metadata: 1 text value(s) shortened to 32 KB"]


def test_warnings_and_errors_are_bounded_text() -> None:
    warnings = admit_warnings([f"w{i}\ud800" for i in range(MAX_WARNINGS + 30)])
    assert len(warnings) == MAX_WARNINGS and warnings[-1] == "... and 31 more warnings"
    assert all(w.encode("utf-8") for w in warnings)
    error = admit_error({"code": "corrupt", "message": "m" * 10_000 + "\udc00"})
    assert error["code"] == "corrupt" and len(error["message"]) == 2000
