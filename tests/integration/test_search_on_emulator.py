"""Search and sort through the API on DynamoDB: what the owner's listing and the admin listing find."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.integration.test_api_on_emulator import final, h, upload
from tests.support import samples

pytestmark = pytest.mark.emulator


def listed(api: str, tokens: dict[str, Any], who: str, path: str, **params: str) -> list[str]:
    names: list[str] = []
    query: dict[str, str] = {"limit": "2", **params}
    while True:
        resp = requests.get(f"{api}{path}", params=query, headers=h(tokens, who), timeout=5)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        names += [d["filename"] for d in page["items"]]
        if not page["next"]:
            return names
        query["next"] = page["next"]


def test_search_is_a_case_insensitive_piece_of_name_title_or_author_for_owners_and_admins(api, tokens, pump) -> None:
    tag = uuid.uuid4().hex[:6]
    made = [
        (f"TIKA-{tag}-report.pdf", samples.pdf(title="Annual figures", author="Ada Lovelace")),
        (f"scan-{tag}.pdf", samples.pdf(title=f"Canon {tag} manual", author="Grace Hopper")),
        (f"notes-{tag}.pdf", samples.pdf(title="Minutes", author="Zoë Ångström")),
    ]
    for name, body in made:
        final(api, tokens, "demo", upload(api, tokens, "demo", name, body, "application/pdf")["document"]["id"])

    assert listed(api, tokens, "demo", "/documents", q=f"tika-{tag}") == [made[0][0]]
    assert listed(api, tokens, "demo", "/documents", q=f"CANON {tag.upper()}") == [made[1][0]]
    assert listed(api, tokens, "demo", "/documents", q="zoe angstrom") == [made[2][0]]
    assert listed(api, tokens, "demo", "/documents", q=tag, sort="name") == [made[2][0], made[1][0], made[0][0]]
    assert listed(api, tokens, "admin", "/admin/documents", q=f"tika-{tag}") == [made[0][0]]
    assert listed(api, tokens, "other", "/documents", q=tag) == []  # another user's documents stay hidden


def test_sorting_by_size_orders_every_page(api, tokens, pump) -> None:
    tag = uuid.uuid4().hex[:6]
    for pages in (3, 1, 2):
        body = samples.pdf(pages=pages)
        final(
            api,
            tokens,
            "demo",
            upload(api, tokens, "demo", f"{tag}-{pages}.pdf", body, "application/pdf")["document"]["id"],
        )
    names = listed(api, tokens, "demo", "/documents", name=tag, sort="-size")
    sizes = [int(n.split("-")[1].split(".")[0]) for n in names]
    assert sizes == [3, 2, 1]
    bad = requests.get(f"{api}/documents?sort=owner", headers=h(tokens, "demo"), timeout=5)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_sort"
