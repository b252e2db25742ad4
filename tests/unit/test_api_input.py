"""API input is validated with clear 400s before anything is stored."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.api.http import json_body, query_dict
from chalicelib.aws.storage import content_disposition
from chalicelib.documents import parse_filters, parse_upload, safe_key_name
from chalicelib.errors import BadRequest
from chalicelib.events import parse_event

MAX = 1000


def test_a_valid_upload_request_is_accepted_and_the_name_loses_its_directories() -> None:
    request = parse_upload({"filename": "C:\\tmp\\..\\report.PDF", "content_type": "Application/PDF", "size": 10}, MAX)
    assert (request.filename, request.content_type, request.size) == ("report.PDF", "application/pdf", 10)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([], "invalid_body"),
        ({"filename": "a", "content_type": "text/plain", "size": 1, "owner": "x"}, "invalid_body"),
        ({"content_type": "text/plain", "size": 1}, "invalid_filename"),
        ({"filename": "  ", "content_type": "text/plain", "size": 1}, "invalid_filename"),
        ({"filename": "a\x00b", "content_type": "text/plain", "size": 1}, "invalid_filename"),
        ({"filename": "a\nb", "content_type": "text/plain", "size": 1}, "invalid_filename"),
        ({"filename": "x" * 256, "content_type": "text/plain", "size": 1}, "invalid_filename"),
        ({"filename": "dir/..", "content_type": "text/plain", "size": 1}, "invalid_filename"),
        ({"filename": "a", "content_type": "text", "size": 1}, "invalid_content_type"),
        ({"filename": "a", "content_type": "text/plain\r\nX-Evil: 1", "size": 1}, "invalid_content_type"),
        ({"filename": "a", "content_type": "text/plain", "size": 0}, "invalid_size"),
        ({"filename": "a", "content_type": "text/plain", "size": True}, "invalid_size"),
        ({"filename": "a", "content_type": "text/plain", "size": "10"}, "invalid_size"),
        ({"filename": "a", "content_type": "text/plain", "size": MAX + 1}, "too_large"),
    ],
)
def test_a_bad_upload_request_is_a_clear_400(body: Any, code: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_upload(body, MAX)
    assert info.value.code == code


def test_key_names_keep_letters_and_drop_everything_risky() -> None:
    assert safe_key_name("Résumé 2026 (final).pdf") == "Résumé 2026 _final_.pdf"
    assert safe_key_name("..") == "file"
    assert len(safe_key_name("é" * 300).encode()) <= 200


def test_downloads_are_attachments_with_an_ascii_fallback_and_the_exact_name() -> None:
    header = content_disposition('naïve "quote";.pdf')
    assert header.startswith('attachment; filename="na_ve _quote__.pdf"; ')
    assert header.endswith("filename*=UTF-8''na%C3%AFve%20%22quote%22%3B.pdf")


def test_list_filters_are_parsed_and_unknown_ones_refused() -> None:
    filters = parse_filters({"status": "FAILED", "family": "pdf", "created_from": "2026-01-01", "name": "rep"})
    assert (filters.status, filters.family, filters.created_from, filters.name_prefix) == (
        "FAILED",
        "pdf",
        "2026-01-01",
        "rep",
    )
    for bad in ({"colour": "red"}, {"status": "DONE"}, {"family": "PDF!"}, {"created_to": "yesterday"}, {"name": ""}):
        with pytest.raises(BadRequest):
            parse_filters(bad)


def test_bodies_that_are_not_json_objects_are_refused() -> None:
    assert json_body(b'{"a": 1}') == {"a": 1}
    for raw in (None, b"", b"{", b"\xff\xfe", b"x" * 300_000):
        with pytest.raises(BadRequest):
            json_body(raw)


def test_a_repeated_query_parameter_is_refused() -> None:
    class Multi(dict[str, str]):
        def getlist(self, name: str) -> list[str]:
            return ["1", "2"] if name == "limit" else [self[name]]

    assert query_dict({"a": "1"}) == {"a": "1"}
    with pytest.raises(BadRequest):
        query_dict(Multi(limit="1"))


def test_producer_events_are_validated() -> None:
    assert parse_event({"detail_type": "Order Placed", "detail": {"id": 1}}) == ("Order Placed", {"id": 1})
    bad: dict[str, Any]
    for bad in (
        {"detail": {}},
        {"detail_type": "", "detail": {}},
        {"detail_type": "x", "detail": []},
        {"detail_type": "x", "detail": {"submitted_by": "me"}},
        {"detail_type": "x", "detail": {}, "y": 1},
        {"detail_type": "x", "detail": {"big": "y" * 70_000}},
    ):
        with pytest.raises(BadRequest):
            parse_event(bad)
