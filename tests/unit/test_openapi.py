"""The served OpenAPI document describes exactly the routes the app has."""

from __future__ import annotations

import app as app_module
from chalicelib.api.openapi import document


def routes_in_app() -> set[tuple[str, str]]:
    return {(path, method.lower()) for path, methods in app_module.app.routes.items() for method in methods}


def routes_in_document() -> set[tuple[str, str]]:
    return {(path, method) for path, ops in document()["paths"].items() for method in ops}


def test_every_app_route_is_documented_and_every_documented_route_exists() -> None:
    assert routes_in_document() == routes_in_app()


def test_protected_routes_are_documented_as_needing_a_token_and_public_ones_not() -> None:
    for path, methods in app_module.app.routes.items():
        for method, entry in methods.items():
            op = document()["paths"][path][method.lower()]
            assert bool(op["security"]) == (entry.authorizer is not None), (path, method)


def test_every_schema_reference_resolves() -> None:
    import json

    text = json.dumps(document())
    schemas = document()["components"]["schemas"]
    for name in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in schemas, name
