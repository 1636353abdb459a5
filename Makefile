# `make audit` and `make test` work on a fresh machine: the first run creates .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: system setup audit test lint catalogue schema bench

# Debian packages (as root): Samba for the lab's domain controller, Kerberos headers for gssapi,
# Chromium for the test that opens the HTML report in a browser.
system:
	bash .ci/install-system-packages.sh

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,kerberos]'
	touch $@

# The main job: start the bundled lab (Hyper-V hosts speaking WS-Management, and a Samba AD DC),
# audit it live over PowerShell Remoting and LDAP, write reports/. Exit 1: a pair is not ready.
audit: setup
	$(BIN)/lmready audit --lab

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
	$(BIN)/python benchmarks/collect_scale.py
	$(BIN)/python benchmarks/compare_scale.py
