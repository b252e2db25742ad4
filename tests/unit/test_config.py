"""Settings come from the environment, with AWS defaults and a local endpoint override."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.config import ConfigurationError, Settings


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


def test_the_cursor_key_fails_closed_without_a_key() -> None:
    with pytest.raises(ConfigurationError, match="DOCPIPE_CURSOR_SECRET"):
        _ = Settings.from_env({"DOCPIPE_TABLE": "t", "DOCPIPE_USER_POOL_ID": "us-east-1_x"}).signing_secret


def test_the_cursor_key_comes_from_the_environment_before_a_resolver_asked_once() -> None:
    asked: list[int] = []

    def resolver() -> str:
        asked.append(1)
        return "from-the-secret-store"

    assert replace(Settings.from_env({"DOCPIPE_CURSOR_SECRET": "k"}), secret_resolver=resolver).signing_secret == "k"
    settings = replace(Settings.from_env({}), secret_resolver=resolver)
    assert (settings.signing_secret, settings.signing_secret, asked) == ("from-the-secret-store",) * 2 + ([1],)


def test_parsing_limits_and_switches_are_read_from_the_environment_once_here() -> None:
    settings = Settings.from_env(
        {"DOCPIPE_EXTRACT_TIMEOUT": "7", "DOCPIPE_SANDBOX": "off", "DOCPIPE_STAGE": "prod", "DOCPIPE_LOG_JSON": "1"}
    )
    assert (settings.extract_seconds, settings.extract_cpu_seconds, settings.sandbox) == (7.0, 6.0, False)
    assert (settings.stage, settings.log_json) == ("prod", True)
    with pytest.raises(ValueError, match="DOCPIPE_RENDITION_TIMEOUT"):
        Settings.from_env({"DOCPIPE_RENDITION_TIMEOUT": "soon"})


def test_below_one_vcpu_parsers_get_proportionally_less_memory_and_more_wall_time_for_the_same_cpu() -> None:
    full = Settings.from_env({})
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769"}) == full
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008"}) == full  # more than one vCPU: as at one
    small = Settings.from_env({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"})
    assert (small.extract_memory_mb, small.rendition_memory_mb) == (592, 296)  # 1,024 MB x 1,024/1,769, 512 x ...
    assert (small.extract_seconds, small.rendition_seconds) == (51.8, 17.3)  # 30 s and 10 s x 1,769/1,024
    assert small.extract_cpu_seconds == full.extract_cpu_seconds
    chosen = Settings.from_env(
        {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "DOCPIPE_EXTRACT_MEMORY_MB": "700", "DOCPIPE_EXTRACT_TIMEOUT": "20"}
    )
    assert (chosen.extract_memory_mb, chosen.extract_seconds, chosen.extract_cpu_seconds) == (700, 20.0, 10.6)
