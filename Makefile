# `make audit` and `make test` work on a fresh machine: the first run creates .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup audit test lint catalogue schema bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The main job: audit the bundled example estate, write reports/. Exit 1 means a pair is not ready.
audit: setup
	$(BIN)/pytest --inventory inventories/example.yml

# lmready's own tests. pytest's exit code 5 (no tests ran) is a failure here, not a pass.
test: setup
	@$(BIN)/pytest tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: setup
	$(BIN)/ruff check src checks tests benchmarks
	$(BIN)/ruff format --check src checks tests benchmarks

catalogue: setup
	$(BIN)/lmready catalogue --write-readme README.md

schema: setup
	$(BIN)/lmready schema --write schema

bench: setup
	$(BIN)/python benchmarks/audit_scale.py
