"""Metadata that DynamoDB cannot hold as the file says it never breaks a document, a listing or the admin view."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
import requests

from tests.reliability.test_keys_end_to_end import drop_and_wait

pytestmark = pytest.mark.emulator

SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    b'width="12" height="8"><rect width="12" height="8"/></svg>\n'
)
XML = b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>\n'


def pdf_with_500_kb_of_metadata() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(72, 72)
    writer.add_metadata(
        {"/Title": "T" * 150_000, "/Subject": "S" * 150_000, "/Keywords": "K" * 150_000, "/Author": "A" * 60_000}
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def everything_answers(api: str, demo: dict[str, str], admin_token: str, doc_id: str) -> dict[str, Any]:
    """The owner's list, the document, and the admin list all answer 200 and show it; returns the document."""
    mine = requests.get(f"{api}/documents?limit=100", headers={"Authorization": demo["token"]}, timeout=10)
    assert mine.status_code == 200, mine.text
    assert doc_id in {d["id"] for d in mine.json()["items"]}
    admin = requests.get(f"{api}/admin/documents?limit=100", headers={"Authorization": admin_token}, timeout=10)
    assert admin.status_code == 200, admin.text
    one = requests.get(f"{api}/documents/{doc_id}", headers={"Authorization": demo["token"]}, timeout=10)
    assert one.status_code == 200, one.text
    doc: dict[str, Any] = one.json()
    return doc


@pytest.fixture(scope="module")
def admin_token(stack: Any, aws: dict[str, Any]) -> str:
    from local.provision import login

    token: str = login(aws["cognito-idp"], stack.client_id, "admin", stack.names.admin_password)["IdToken"]
    return token


@pytest.mark.parametrize(("name", "body"), [("drawing.svg", SVG), ("feed.xml", XML)])
def test_xml_with_a_default_namespace_is_listed_read_and_deleted(
    api, demo, aws, stack, pump, admin_token, name, body
) -> None:
    doc, doc_id, _ = drop_and_wait(api, demo, aws, stack.names.bucket, name, body)
    assert doc["status"] == "PROCESSED", doc
    doc = everything_answers(api, demo, admin_token, doc_id)
    assert "(empty)" in doc["metadata"]["details"]["namespaces"]
    gone = requests.delete(f"{api}/documents/{doc_id}", headers={"Authorization": demo["token"]}, timeout=10)
    assert gone.status_code in (202, 204), gone.text


def test_a_file_with_500_kb_of_metadata_is_processed_with_its_core_fields_and_a_warning(
    api, demo, aws, stack, pump, admin_token
) -> None:
    doc, doc_id, _ = drop_and_wait(api, demo, aws, stack.names.bucket, "huge-info.pdf", pdf_with_500_kb_of_metadata())
    assert doc["status"] == "PROCESSED", doc
    doc = everything_answers(api, demo, admin_token, doc_id)
    assert doc["metadata"]["page_count"] == 1 and doc["metadata"]["title"].startswith("TTTT")
    assert any("shortened" in w for w in doc["warnings"]), doc["warnings"]


def test_a_document_whose_metadata_cannot_be_read_is_listed_read_and_deleted(
    api, demo, aws, stack, pump, admin_token
) -> None:
    """An item written around the gate (by hand, or before it existed): the emulator mangles its empty key.

    The listing indexes project a document's list view, never its metadata, so
    a list page reads such a document like any other.
    """
    from chalicelib.aws.repository import item_from_document
    from chalicelib.aws.table import dump
    from chalicelib.models import Document, Status, utcnow

    _, readable_id, _ = drop_and_wait(api, demo, aws, stack.names.bucket, "fine.txt", b"fine\n")
    now, planted_id = utcnow(), uuid.uuid4().hex
    poisoned = Document(
        id=planted_id,
        owner=demo["sub"],
        bucket=stack.names.bucket,
        key=f"uploads/{demo['sub']}/{planted_id}/old.svg",
        filename="old.svg",
        status=Status.PROCESSED,
        created_at=now,
        updated_at=now,
        metadata={"family": "markup", "details": {"namespaces": {"": "http://www.w3.org/2000/svg"}}},
    )
    aws["dynamodb"].put_item(TableName=stack.names.table, Item=dump(item_from_document(poisoned)))
    headers = {"Authorization": demo["token"]}
    for url, auth in ((f"{api}/documents?limit=100", headers), (f"{api}/admin/documents?limit=100", None)):
        page = requests.get(url, headers=auth or {"Authorization": admin_token}, timeout=10)
        assert page.status_code == 200, page.text
        ids = {d["id"] for d in page.json()["items"]}
        assert readable_id in ids and planted_id in ids
    for query in ("sort=name", "sort=-size", "q=fine", "q=old"):  # a sorting window and a search, too
        page = requests.get(f"{api}/documents?limit=100&{query}", headers=headers, timeout=10)
        assert page.status_code == 200, (query, page.text)
        if query != "q=old":
            assert readable_id in {d["id"] for d in page.json()["items"]}, query
    one = requests.get(f"{api}/documents/{planted_id}", headers=headers, timeout=10)
    assert one.status_code == 200, one.text
    # what is left of the metadata is the list-view fields the document keeps beside it
    assert one.json()["metadata"] == {"family": "markup"}
    assert any("cannot be read" in w for w in one.json()["warnings"])
    gone = requests.delete(f"{api}/documents/{planted_id}", headers=headers, timeout=10)
    assert gone.status_code in (202, 204), gone.text
