"""Stopping a backfill's execution: the one Step Functions call the admin API makes.

Kept apart from `workflow` (which starts executions and answers task tokens
for the backfill queue's consumer) so that the per-module IAM analysis grants
the API StopExecution and nothing else of Step Functions.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws.table import error_code


class ExecutionStopper:
    def __init__(self, stepfunctions: Any) -> None:
        self._sfn = stepfunctions

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop the execution (its waiting batches are aborted); one that does not exist is not an error."""
        try:
            self._sfn.stop_execution(executionArn=execution_arn, cause=cause[:32768])
        except Exception as exc:
            if error_code(exc) != "ExecutionDoesNotExist":
                raise
