"""Secrets Manager: a secret's value read at run time, so it never sits in a function's configuration.

A value put in a Lambda environment variable is visible to anyone who may read
the function's configuration (lambda:GetFunctionConfiguration) and is fixed at
deploy time; read here, it needs secretsmanager:GetSecretValue on that one
secret (deploy/policies.py) and is asked for once per execution environment
(Settings keeps it), which is one call per cold start at most.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import TransientError

log = logging.getLogger("docpipe.secrets")


def read_secret(secretsmanager: Any, secret_id: str) -> str:
    """The secret's current string value (AWSCURRENT)."""
    try:
        value = secretsmanager.get_secret_value(SecretId=secret_id).get("SecretString")
    except (BotoCoreError, ClientError) as exc:
        log.error("secret unreadable", extra={"secret": secret_id.rsplit(":", 1)[-1], "reason": str(exc)})
        raise TransientError("A key the service needs cannot be read; try again later") from exc
    if not value:
        log.error("secret has no string value", extra={"secret": secret_id.rsplit(":", 1)[-1]})
        raise TransientError("A key the service needs cannot be read; try again later")
    return str(value)
