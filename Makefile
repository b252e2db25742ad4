# docpipe: `make run` starts the whole stack on the embedded AWS emulator; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench cost vendor reliability clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

run: $(STAMP)
	$(PY) -m local

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
