"""The backfill state machine, as the backfill queue's consumer drives it: start a run, answer a batch's token.

(Stopping is `executions.ExecutionStopper`, apart, so only the API may stop.)
Starting is idempotent: the execution is named after the run, and Step
Functions answers a repeated StartExecution with the same name and input with
the execution it already has (Standard workflows). A token whose execution
was stopped, or whose task timed out, can no longer be answered; that is
reported, not raised.
https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.aws.table import error_code

_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class Workflow:
    def __init__(self, stepfunctions: Any, state_machine_arn: str) -> None:
        self._sfn = stepfunctions
        self._arn = state_machine_arn

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start (or find) the execution named `name`; returns its ARN."""
        try:
            resp = self._sfn.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
        except Exception as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise
            return self.execution_arn(name)
        return str(resp["executionArn"])

    def execution_arn(self, name: str) -> str:
        """arn:aws:states:<region>:<account>:execution:<state machine name>:<execution name>."""
        prefix, _, machine = self._arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"

    def report(self, token: str, output: dict[str, Any]) -> bool:
        """Answer a batch's task token; False when nothing waits for it any more."""
        try:
            self._sfn.send_task_success(taskToken=token, output=json.dumps(output))
        except Exception as exc:
            if error_code(exc) in _GONE:
                return False
            raise
        return True
