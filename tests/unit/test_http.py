"""The HTTP edge: callers come only from verified claims; errors become {code, message}."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.api.http import api, caller_from_context, groups_from_claim
from chalicelib.errors import NotFound, Unauthorized


def test_the_caller_is_read_from_the_authorizer_claims() -> None:
    ctx = {"authorizer": {"claims": {"sub": "abc", "cognito:username": "demo", "cognito:groups": "admins"}}}
    caller = caller_from_context(ctx, "admins")
    assert (caller.sub, caller.username, caller.admin) == ("abc", "demo", True)


def test_a_request_without_claims_is_unauthorized() -> None:
    with pytest.raises(Unauthorized):
        caller_from_context({}, "admins")
    with pytest.raises(Unauthorized):
        caller_from_context({"authorizer": {"claims": {"sub": ""}}}, "admins")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["admins", "x"], {"admins", "x"}),
        ("admins", {"admins"}),
        ("[admins, staff]", {"admins", "staff"}),
        ("[admins staff]", {"admins", "staff"}),
        ('["admins", "staff"]', {"admins", "staff"}),
        ("readers,admins", {"readers,admins"}),
        ("[readers,admins]", {"readers,admins"}),
        ("[readers,admins other]", {"readers,admins", "other"}),
        ("[readers,admins, other]", {"readers,admins", "other"}),
        (["readers,admins"], {"readers,admins"}),
        ("[]", set()),
        (None, set()),
        (7, set()),
    ],
)
def test_groups_are_read_in_every_shape_api_gateway_uses(raw: object, expected: set[str]) -> None:
    assert groups_from_claim(raw) == expected


@pytest.mark.parametrize("raw", ["readers,admins", "[readers,admins]", '["readers,admins"]', ["readers,admins"]])
def test_a_group_whose_name_contains_a_comma_and_admins_does_not_grant_admin(raw: object) -> None:
    ctx = {"authorizer": {"claims": {"sub": "abc", "cognito:groups": raw}}}
    assert caller_from_context(ctx, "admins").admin is False


def test_a_group_named_like_admins_is_not_admin() -> None:
    ctx = {"authorizer": {"claims": {"sub": "abc", "cognito:groups": "admins-wannabe"}}}
    assert caller_from_context(ctx, "admins").admin is False


def test_domain_errors_become_json_with_their_status() -> None:
    @api
    def view() -> Any:
        raise NotFound("No such document")

    response = view()
    assert response.status_code == 404
    assert json.loads(response.body) == {"code": "not_found", "message": "No such document"}


def test_unexpected_errors_become_a_plain_500_that_names_nothing_internal() -> None:
    @api
    def view() -> Any:
        raise RuntimeError("arn:aws:dynamodb:us-east-1:123:table/docpipe exploded")

    response = view()
    assert response.status_code == 500
    assert "arn:" not in response.body and "docpipe" not in response.body
    assert json.loads(response.body)["code"] == "internal"


def test_chalices_own_errors_are_rewritten_in_docpipes_shape() -> None:
    from chalice import Response

    from chalicelib.api.http import normalize_error

    response = normalize_error(Response(body={"Code": "UnsupportedMediaType", "Message": "no"}, status_code=415))
    assert json.loads(response.body) == {"code": "unsupported_media_type", "message": "no"}
    method = normalize_error(Response(body={"Code": "MethodNotAllowedError", "Message": "x"}, status_code=405))
    assert json.loads(method.body)["code"] == "method_not_allowed"
    untouched = normalize_error(Response(body={"ok": True}, status_code=200))
    assert untouched.body == {"ok": True}


@pytest.mark.parametrize("raw", ["[" * 100_000, '{"a":' * 50_000, "[" * 100_000 + "]" * 100_000])
def test_a_deeply_nested_body_is_a_clear_400_not_a_500(raw: str) -> None:
    from chalicelib.api.http import json_body
    from chalicelib.errors import BadRequest

    with pytest.raises(BadRequest) as caught:
        json_body(raw)
    assert caught.value.code == "invalid_body"
