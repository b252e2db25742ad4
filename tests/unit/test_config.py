"""Settings come from the environment, with AWS defaults and a local endpoint override."""

from __future__ import annotations

import pytest

from chalicelib.config import Settings


def test_on_aws_there_is_no_endpoint_override() -> None:
    settings = Settings.from_env({"AWS_REGION": "eu-west-1"})
    assert settings.aws_endpoint is None and settings.region == "eu-west-1"
    assert settings.public_config()["cognito_endpoint"] is None


def test_the_local_stack_sets_the_emulator_endpoint() -> None:
    settings = Settings.from_env({"DOCPIPE_AWS_ENDPOINT": "http://127.0.0.1:4566", "DOCPIPE_BUCKET": "b"})
    assert settings.aws_endpoint == "http://127.0.0.1:4566"
    assert settings.public_config()["bucket"] == "b"


def test_public_config_has_exactly_what_a_client_needs_to_log_in() -> None:
    keys = set(Settings.from_env({}).public_config())
    assert keys == {"region", "user_pool_id", "client_id", "cognito_endpoint", "bucket", "max_upload_bytes"}


def test_a_non_numeric_limit_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="DOCPIPE_MAX_UPLOAD_BYTES"):
        Settings.from_env({"DOCPIPE_MAX_UPLOAD_BYTES": "lots"})
