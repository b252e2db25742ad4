"""One frozen view of the environment, and the CSV producer's limits.

Every environment variable docpipe reads is read here, by `Settings.from_env`
(a test keeps every other module of chalicelib from reading the environment),
so the same code runs on AWS (no endpoint override) and on the local stack
(endpoint set to the embedded emulator) without a branch anywhere else. The
AWS-free core takes its limits from a `Settings` too (see `extraction.bounds`).
`FanOutSettings` holds the limits of the CSV records producer and of its SQS
sending (service quotas and bounds, not deployment choices).

The key that signs pagination cursors fails closed: with no
DOCPIPE_CURSOR_SECRET (and no `secret_resolver`, which a deployment may plug
in to read it from Secrets Manager at run time) no cursor is issued or
accepted, rather than one signed with a guessable key.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

MIB = 1024 * 1024
UPLOADS_PREFIX = "uploads/"
"""Objects put under this prefix are processed."""
RENDITIONS_PREFIX = "renditions/"
"""Rendition pages live here, never under the uploads prefix."""
_UNSET_POOL_ARN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_unset"
_OFF = ("0", "false", "no", "off")


class ConfigurationError(RuntimeError):
    """The deployment lacks a setting this call needs (a fault of the deployment, never of the request)."""


def _parsed[T](env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T], kind: str) -> T:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be {kind}, got {raw!r}") from exc


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return _parsed(env, name, default, int, "an integer")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _parsed(env, name, default, float, "a number")


def _log_json(env: Mapping[str, str]) -> bool:
    """DOCPIPE_LOG_JSON when set, else on exactly when running on Lambda."""
    flag = env.get("DOCPIPE_LOG_JSON")
    if flag is not None:
        return flag.lower() in ("1", "true", "yes")
    return "AWS_LAMBDA_FUNCTION_NAME" in env


ONE_VCPU_MB = 1769
"""Lambda allocates CPU in proportion to memory: one vCPU at 1,769 MB
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html)."""


@dataclass(frozen=True)
class ParserBudget:
    """The sandbox's defaults for the function's memory setting (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, which Lambda
    sets: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).

    At one vCPU or more (and off Lambda) a parser may add 1,024 MB of address space for extraction, 512 MB for
    a rendition, and has 30 s and 10 s of wall-clock time. Below that, the memory bounds shrink in proportion to
    the setting, so the host, the zygote and the worker still fit in it together (`bench.memory_fit` measures
    them), and the wall-clock limits grow as the CPU share shrinks, so a file gets the same CPU seconds
    (`extract_cpu_seconds`) before it is called too slow. A rendition's CPU limit stays its wall limit less a
    second (`bounds.Limits.for_rendition`); below one vCPU its wall limit, which allows the same CPU seconds as
    before, comes first.
    """

    cpu_share: float = 1.0
    extract_seconds: float = 30.0
    extract_memory_mb: int = 1024
    rendition_seconds: float = 10.0
    rendition_memory_mb: int = 512

    def cpu_seconds(self, wall_seconds: float) -> float:
        """The CPU limit for a wall-clock limit: what the share gives in it, less a second (the wall limit is last)."""
        return max(1.0, round(wall_seconds * self.cpu_share - 1.0, 1))

    @classmethod
    def for_function(cls, env: Mapping[str, str]) -> ParserBudget:
        memory = _int(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ONE_VCPU_MB)
        share = min(1.0, max(memory, 128) / ONE_VCPU_MB)
        full = cls()
        return cls(
            cpu_share=share,
            extract_seconds=round(full.extract_seconds / share, 1),
            extract_memory_mb=int(full.extract_memory_mb * share),
            rendition_seconds=round(full.rendition_seconds / share, 1),
            rendition_memory_mb=int(full.rendition_memory_mb * share),
        )


def upload_events(env: Mapping[str, str] | None = None) -> str:
    """How uploads reach the app: "s3" (bucket notification) or "eventbridge" (Object Created rule)."""
    env = os.environ if env is None else env
    mode = (env.get("DOCPIPE_UPLOAD_EVENTS") or "s3").strip().lower()
    if mode not in ("s3", "eventbridge"):
        raise ValueError(f"DOCPIPE_UPLOAD_EVENTS must be s3 or eventbridge, got {mode!r}")
    return mode


@dataclass(frozen=True)
class Settings:
    region: str
    aws_endpoint: str | None
    bucket: str
    table: str
    records_queue: str
    event_bus: str
    user_pool_id: str
    client_id: str
    cognito_endpoint: str | None
    cursor_secret: str
    uploads_prefix: str = UPLOADS_PREFIX
    renditions_prefix: str = RENDITIONS_PREFIX
    max_upload_bytes: int = 512 * MIB
    hash_max_bytes: int = 2048 * MIB
    head_bytes: int = 8192
    admin_group: str = "admins"
    upload_events: str = "s3"
    lease_seconds: int = 600
    max_attempts: int = 3
    user_pool_arn: str = _UNSET_POOL_ARN
    web_origin: str = "http://127.0.0.1:8000"
    stage: str = "local"
    log_json: bool = False
    sandbox: bool = True
    """Parsers run in a forked, bounded child; DOCPIPE_SANDBOX=0 runs them in-process (for debugging)."""
    extract_seconds: float = 30.0
    extract_cpu_seconds: float = 29.0
    extract_memory_mb: int = 1024
    rendition_seconds: float = 10.0
    rendition_memory_mb: int = 512
    backfill_queue: str = "docpipe-backfill"
    """The queue backfill batches wait in; its own consumer and concurrency keep live uploads first."""
    backfill_state_machine: str = ""
    """The ARN of the backfill state machine (BackfillStateMachine in infra/docpipe.yaml)."""
    secret_resolver: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    """Where the cursor key comes from when DOCPIPE_CURSOR_SECRET is empty (read once, on first use)."""
    reports_batch_item_failures: bool = False
    """The records mapping has ReportBatchItemFailures (the packaged template sets both); without it the
    consumer deletes what it handled and fails (aws.sqs_batch.settle_batch), as after `chalice deploy`."""
    libmagic_path: str = ""
    cursor_secret_arn: str = ""
    """Secrets Manager secret holding the cursor key (DOCPIPE_CURSOR_SECRET_ARN): wiring plugs in a
    `secret_resolver` that reads it at run time, so the key is never in the function's configuration."""
    """The packaged libmagic (DOCPIPE_LIBMAGIC), loaded by path before python-magic asks for it by soname."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        budget = ParserBudget.for_function(env)
        extract_seconds = _float(env, "DOCPIPE_EXTRACT_TIMEOUT", budget.extract_seconds)
        return cls(
            region=region,
            aws_endpoint=env.get("DOCPIPE_AWS_ENDPOINT") or None,
            bucket=env.get("DOCPIPE_BUCKET", "docpipe-uploads"),
            table=env.get("DOCPIPE_TABLE", "docpipe"),
            records_queue=env.get("DOCPIPE_RECORDS_QUEUE", "docpipe-records"),
            event_bus=env.get("DOCPIPE_EVENT_BUS", "default"),
            user_pool_id=env.get("DOCPIPE_USER_POOL_ID", ""),
            client_id=env.get("DOCPIPE_CLIENT_ID", ""),
            cognito_endpoint=env.get("DOCPIPE_COGNITO_ENDPOINT") or None,
            cursor_secret=env.get("DOCPIPE_CURSOR_SECRET", ""),
            max_upload_bytes=_int(env, "DOCPIPE_MAX_UPLOAD_BYTES", 512 * MIB),
            hash_max_bytes=_int(env, "DOCPIPE_HASH_MAX_BYTES", 2048 * MIB),
            upload_events=upload_events(env),
            lease_seconds=_int(env, "DOCPIPE_LEASE_SECONDS", 600),
            max_attempts=_int(env, "DOCPIPE_MAX_ATTEMPTS", 3),
            user_pool_arn=env.get("DOCPIPE_USER_POOL_ARN", _UNSET_POOL_ARN),
            web_origin=env.get("DOCPIPE_WEB_ORIGIN", "http://127.0.0.1:8000"),
            stage=env.get("DOCPIPE_STAGE", "local"),
            log_json=_log_json(env),
            sandbox=env.get("DOCPIPE_SANDBOX", "1").strip().lower() not in _OFF,
            extract_seconds=extract_seconds,
            extract_cpu_seconds=_float(env, "DOCPIPE_EXTRACT_CPU_SECONDS", budget.cpu_seconds(extract_seconds)),
            extract_memory_mb=_int(env, "DOCPIPE_EXTRACT_MEMORY_MB", budget.extract_memory_mb),
            rendition_seconds=_float(env, "DOCPIPE_RENDITION_TIMEOUT", budget.rendition_seconds),
            rendition_memory_mb=_int(env, "DOCPIPE_RENDITION_MEMORY_MB", budget.rendition_memory_mb),
            backfill_queue=env.get("DOCPIPE_BACKFILL_QUEUE", "docpipe-backfill"),
            backfill_state_machine=env.get("DOCPIPE_BACKFILL_STATE_MACHINE", ""),
            reports_batch_item_failures=env.get("DOCPIPE_REPORTS_BATCH_ITEM_FAILURES", "") in ("1", "true"),
            libmagic_path=env.get("DOCPIPE_LIBMAGIC", ""),
            cursor_secret_arn=env.get("DOCPIPE_CURSOR_SECRET_ARN", ""),
        )

    @property
    def signing_secret(self) -> str:
        """The key that signs pagination cursors: DOCPIPE_CURSOR_SECRET, else the resolver's; never a guess."""
        if self.cursor_secret:
            return self.cursor_secret
        resolved = self._resolved_secret
        if not resolved:
            raise ConfigurationError("No cursor key: set DOCPIPE_CURSOR_SECRET (or plug in a secret resolver)")
        return resolved

    @functools.cached_property
    def _resolved_secret(self) -> str:
        """The resolver's key, asked once per Settings (a failing resolver is asked again next time)."""
        return self.secret_resolver() if self.secret_resolver is not None else ""

    def public_config(self) -> dict[str, str | int | None]:
        """What a client needs to log in and upload (served by GET /config)."""
        return {
            "max_upload_bytes": self.max_upload_bytes,
            "region": self.region,
            "user_pool_id": self.user_pool_id,
            "client_id": self.client_id,
            "cognito_endpoint": self.cognito_endpoint,
            "bucket": self.bucket,
        }


@dataclass(frozen=True)
class FanOutSettings:
    message_bytes: int = 256 * 1024
    """Largest message body sent (also capped by the queue's MaximumMessageSize)."""
    batch_bytes: int = 1024 * 1024
    """Largest SendMessageBatch payload (SQS: 1 MiB)."""
    batch_entries: int = 10
    max_row_bytes: int = 350 * 1024
    """Largest row stored (a DynamoDB item is at most 400 KB)."""
    max_record_bytes: int = 1024 * 1024
    """Bytes of one CSV record beyond which it is rejected without being held in memory."""
    max_row_errors: int = 10_000
    """Past this many rejected rows the file is not the CSV it claims to be: production stops."""
    read_block: int = 1024 * 1024
    leg_share_of_visibility: float = 0.5
    """A resumed leg runs at most this share of the queue's visibility timeout."""
