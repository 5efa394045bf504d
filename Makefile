# imagepipe: `make run` starts the local stack, `make test` runs the suite. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
WORKERS ?= 1
PORT ?= 8000

.PHONY: run test lint typecheck unit integration e2e validate build bench replay key clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[api,worker,cli,dev]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

run: $(STAMP)
	@WORKERS=$(WORKERS) PORT=$(PORT) $(PY) infra/local/stack.py

test: $(STAMP) lint typecheck validate build
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy $(wildcard src layers functions infra tests benchmarks/*.py)

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration tests/handler

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

validate: $(STAMP)
	bash infra/validate.sh

build: $(STAMP)
	bash infra/build.sh

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache .local

replay: $(STAMP)
	$(PY) -m imagepipe.replay $(ARGS)

key: $(STAMP)
	$(PY) -m imagepipe.keyadmin $(ARGS)
