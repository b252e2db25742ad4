"""One frozen view of the environment, and the CSV producer's limits.

Every tunable the app reads comes through `Settings.from_env`, so the same code
runs on AWS (no endpoint override) and on the local stack (endpoint set to the
embedded emulator) without a branch anywhere else. `FanOutSettings` holds the
limits of the CSV records producer and of its SQS sending (service quotas and
bounds, not deployment choices).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

MIB = 1024 * 1024


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


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
    uploads_prefix: str = "uploads/"
    renditions_prefix: str = "renditions/"
    max_upload_bytes: int = 512 * MIB
    hash_max_bytes: int = 2048 * MIB
    head_bytes: int = 8192
    admin_group: str = "admins"
    upload_events: str = "s3"
    lease_seconds: int = 600
    max_attempts: int = 3
    reports_batch_item_failures: bool = False
    """The records mapping has ReportBatchItemFailures (the packaged template sets both); without it the
    consumer deletes what it handled and fails (aws.sqs.settle_batch), as after `chalice deploy`."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
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
            reports_batch_item_failures=env.get("DOCPIPE_REPORTS_BATCH_ITEM_FAILURES", "") in ("1", "true"),
        )

    @property
    def signing_secret(self) -> str:
        """The key that signs pagination cursors (DOCPIPE_CURSOR_SECRET; a stable fallback for local runs)."""
        return self.cursor_secret or f"{self.table}:{self.user_pool_id}"

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
