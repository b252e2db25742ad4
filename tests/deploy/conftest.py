"""Fixtures for the deployment checks: the deploy emulator, the infra stack on it, one packaged stage.

The emulator here is `local.deploy_emulator` (moto plus what deploying needs
of it, listed in that module), so the infra template is deployed unchanged
and its outputs are the ones a real stack returns.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.templates import load_template

STAGE = "ci"
REGION = "us-east-1"
# moto accepts these without creating anything: their properties are checked by cfn-lint and read from the template.
EMULATOR_SKIPS = {"AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::Subscription"}
INFRA_PARAMETERS = {
    "Stage": STAGE,
    "CognitoDomainPrefix": "docpipe-ci-example",
    "WebOrigins": "https://app.example.com",
}


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    """Overrides the suite's emulator: deploying needs `local.deploy_emulator`."""
    from local.emulator import Emulator, free_port

    emu = Emulator(port=free_port(), module="local.deploy_emulator").start()
    yield emu
    emu.stop()


def session_for(endpoint: str) -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id="docpipe-test", aws_secret_access_key="docpipe-test", region_name=REGION
    )


def clients(endpoint: str, *names: str) -> dict[str, Any]:
    session = session_for(endpoint)
    return {n: session.client(n, endpoint_url=endpoint) for n in names}


def create_infra_stack(endpoint: str, stage: str = STAGE, **parameters: str) -> dict[str, Any]:
    """infra/docpipe.yaml, unchanged, created on the emulator; returns the stack's description."""
    cfn = clients(endpoint, "cloudformation")["cloudformation"]
    name = f"docpipe-{stage}-infra"
    values = {**INFRA_PARAMETERS, "Stage": stage, **parameters}
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(load_template()),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return stack


@pytest.fixture(scope="session")
def infra_stack(emulator: Any) -> Iterator[dict[str, Any]]:
    """The infra template deployed into the emulator's CloudFormation; yields clients and outputs."""
    aws = clients(
        emulator.endpoint, "cloudformation", "s3", "dynamodb", "sqs", "events", "logs", "cloudwatch",
        "secretsmanager", "cognito-idp", "iam", "lambda", "apigateway",
    )  # fmt: skip
    stack = create_infra_stack(emulator.endpoint)
    name = stack["StackName"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = aws["cloudformation"].list_stack_resources(StackName=name)["StackResourceSummaries"]
    yield {"aws": aws, "name": name, "status": stack["StackStatus"], "outputs": outputs, "resources": resources,
           "endpoint": emulator.endpoint}  # fmt: skip


@pytest.fixture(scope="session")
def packaged(infra_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The stage packaged exactly as `make package` does it, from the emulator stack's outputs."""
    from deploy import configure, package

    stage = configure.Stage(STAGE, infra_stack["outputs"], xray=True)
    return package.build(stage, dest=tmp_path_factory.mktemp("artifacts") / STAGE)


def tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -r requirements-dev.txt")
    return found
