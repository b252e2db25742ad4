# docpipe: `make run` starts the whole stack on the embedded AWS emulator; `make test` runs every test.
# Lambda's python3.13 runtime (Amazon Linux 2023); `.python-version` selects it where pyenv is used.
PYTHON ?= python3.13
PYTHON_VERSION := 3.13
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
comma := ,

.PHONY: run clean-data test lint format bench cost vendor reliability clean

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

cost: $(STAMP)
	$(PY) -m bench.cost

vendor: $(STAMP)
	$(PY) -m deploy.vendor

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
