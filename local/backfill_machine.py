"""The backfill state machine on the emulator, from the same definition AWS gets (in infra/docpipe.yaml).

The emulator runs state machines only when its `stepfunctions.execute_state_machine`
setting is on (moto's /moto-api/config endpoint); its interpreter is completed
by `local.sfn_shim` where the definition needs more than moto 5.2.5 offers.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

RESOURCE = "BackfillStateMachine"
ROLE = "arn:aws:iam::123456789012:role/docpipe-backfill-local"  # the emulator does not check roles


def definition() -> str:
    """The ASL of the infra template's BackfillStateMachine (its `DefinitionString`), as JSON."""
    from deploy.templates import load_template

    text: str = load_template()["Resources"][RESOURCE]["Properties"]["DefinitionString"]
    return text


def enable_execution(endpoint: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def create(stepfunctions: Any, endpoint: str, name: str) -> str:
    """Create the backfill state machine (executions enabled); returns its ARN."""
    enable_execution(endpoint)
    resp = stepfunctions.create_state_machine(name=name, definition=definition(), roleArn=ROLE, type="STANDARD")
    return str(resp["stateMachineArn"])
