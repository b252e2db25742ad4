# docpipe: `make run` starts the whole stack on the embedded AWS emulator; `make test` runs every test.
# Lambda's python3.13 runtime (Amazon Linux 2023); `.python-version` selects it where pyenv is used.
PYTHON ?= python3.13
PYTHON_VERSION := 3.13
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
comma := ,

.PHONY: run clean-data test lint format bench cost vendor package infra deploy chalice-deploy web readback reliability bench-backfill clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma) ,$(PYTHON_VERSION))))' 2>/dev/null || \
	  { echo "docpipe needs Python $(PYTHON_VERSION) as '$(PYTHON)' (see README: Prerequisites)" >&2; exit 1; }
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma) ,$(PYTHON_VERSION))))' 2>/dev/null || \
	  { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

run: $(STAMP)
	$(PY) -m local $(RUN_ARGS)

# forget the local stack's data folder (local-data/, or DOCPIPE_DATA_DIR); `make run RUN_ARGS=--fresh` does it on start
clean-data: $(STAMP)
	$(PY) -m local --clean-data

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m bench.extract

reliability: $(STAMP)
	$(PY) -m bench.reliability

bench-backfill: $(STAMP)
	$(PY) -m bench.backfill $(BENCH_ARGS)

cost: $(STAMP)
	$(PY) -m bench.cost

vendor: $(STAMP)
	$(PY) -m deploy.vendor

# The Lambda zip and SAM template of a stage under artifacts/<STAGE>/, offline: from OUTPUTS (a JSON file of
# the infra stack's outputs) or, without it, deploy/outputs.example.json.
package: $(STAMP)
	@test -n "$(STAGE)" || { echo "usage: make package STAGE=name [OUTPUTS=outputs.json] [ARCH=arm64]" >&2; exit 2; }
	$(PY) -m deploy.package --stage $(STAGE) $(if $(OUTPUTS),--outputs $(OUTPUTS)) --arch $(ARCH)

# Deploying a stage (docs/deploy.md, each step explained). The AWS CLI and Chalice use the default credentials
# and region (aws configure); AWS_ENDPOINT_URL=http://127.0.0.1:4566 rehearses on `python -m local.deploy_emulator`.
# INFRA_PARAMS: infra stack parameters, e.g. "CognitoDomainPrefix=docpipe-prod-7d3f WebOrigins=https://app.example.com"
# (needed on the first deploy; later deploys keep the stack's values for those not given).
INFRA_STACK = docpipe-$(STAGE)-infra
ARCH ?= x86_64
AWS := $(VENV)/bin/aws
need-stage = @test -n "$(STAGE)" || { echo "usage: make $@ STAGE=name [INFRA_PARAMS='Key=value ...']" >&2; exit 2; }
stack-output = $$($(AWS) cloudformation describe-stacks --stack-name $(INFRA_STACK) \
  --query "Stacks[0].Outputs[?OutputKey=='$(1)'].OutputValue" --output text)

infra: $(STAMP)
	$(need-stage)
	$(AWS) cloudformation deploy --stack-name $(INFRA_STACK) --template-file infra/docpipe.yaml \
	  --capabilities CAPABILITY_NAMED_IAM --no-fail-on-empty-changeset \
	  --parameter-overrides Stage=$(STAGE) $(INFRA_PARAMS)

# The packaged CloudFormation template (one app stack, docpipe-<STAGE>).
deploy: infra
	$(PY) -m deploy.package --stage $(STAGE) --stack $(INFRA_STACK) --arch $(ARCH) $(PACKAGE_FLAGS)
	$(AWS) cloudformation package --template-file artifacts/$(STAGE)/package/sam.json \
	  --s3-bucket $(call stack-output,DeploymentBucketName) --output-template-file artifacts/$(STAGE)/packaged.yaml
	$(AWS) cloudformation deploy --stack-name docpipe-$(STAGE) --template-file artifacts/$(STAGE)/packaged.yaml \
	  --s3-bucket $(call stack-output,DeploymentBucketName) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
	  --no-fail-on-empty-changeset
	$(PY) -m deploy.web --stage $(STAGE) --stack $(INFRA_STACK)
	$(PY) -m deploy.readback --stage $(STAGE) --stack $(INFRA_STACK)

# chalice deploy, with what it cannot express applied after it (deploy.finish); state in .chalice/deployed/.
chalice-deploy: infra
	$(PY) -m deploy.package --stage $(STAGE) --stack $(INFRA_STACK) --arch $(ARCH) $(PACKAGE_FLAGS)
	$(PY) -m deploy.configure --stage $(STAGE) --stack $(INFRA_STACK) --arch $(ARCH) $(PACKAGE_FLAGS)
	$(PY) -m deploy.vendor --arch $(ARCH) --bytecode-from artifacts/$(STAGE)/package/deployment.zip
	find chalicelib -name __pycache__ -prune -exec rm -rf {} +
	$(PY) -m compileall -q --invalidation-mode checked-hash chalicelib
	$(VENV)/bin/chalice deploy --stage $(STAGE)
	$(PY) -m deploy.finish --stage $(STAGE) --stack $(INFRA_STACK) $(filter --xray,$(PACKAGE_FLAGS))
	$(PY) -m deploy.web --stage $(STAGE) --stack $(INFRA_STACK)
	$(PY) -m deploy.readback --stage $(STAGE) --stack $(INFRA_STACK)

# The web app alone: web/ and this stage's config.json to its bucket, then a CloudFront invalidation.
web: $(STAMP)
	$(need-stage)
	$(PY) -m deploy.web --stage $(STAGE) --stack $(INFRA_STACK) $(if $(API),--api $(API))

readback: $(STAMP)
	$(need-stage)
	$(PY) -m deploy.readback --stage $(STAGE) --stack $(INFRA_STACK) --json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts vendor
