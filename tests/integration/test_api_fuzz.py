"""Fuzz every documented operation (valid and invalid inputs) through the verifying gateway.

Properties: no 5xx, every error body is {code, message}, and no body leaks a
traceback, an ARN or the table name.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from chalicelib.api.openapi import document

pytestmark = pytest.mark.emulator

schema = schemathesis.openapi.from_dict(document())
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    deterministic=True,
    database="none",
)

LEAKS = ("Traceback", "arn:aws", "botocore", 'File "')


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_fuzzed_requests_never_cause_a_server_error_or_leak_internals(
    case: Any, api: str, tokens: Any, stack: Any
) -> None:
    response = case.call(base_url=api, headers={"Authorization": tokens["demo"]["IdToken"]}, timeout=10)
    body = response.text
    assert response.status_code < 500, (case.method, case.path, response.status_code, body[:300])
    for leak in (*LEAKS, stack.names.table + ":", f"table/{stack.names.table}"):
        assert leak not in body, (case.method, case.path, leak)
    if response.status_code >= 400:
        error = json.loads(body)
        assert set(error) == {"code", "message"}, body[:300]
