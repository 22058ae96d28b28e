# Quick start (Debian 12, fresh clone):
#   make book    set up the runtime if needed, then build manuscript/ into output/
#   make test    set up everything (dev extras, validators, DAISY Ace), run pytest
#
# Set-up lives in scripts/bootstrap.sh; it is idempotent and quick when done.
# Extra pytest arguments: make test ARGS='-m "not e2e" -x'  (PYTEST_ARGS works too)

SHELL := /bin/bash
VENV  := .venv
ARGS ?=
PYTEST_ARGS ?=

.PHONY: book test setup setup-dev clean

book: setup
	$(VENV)/bin/publish build

test: setup-dev
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS) $(ARGS)

setup:
	@bash scripts/bootstrap.sh runtime

setup-dev:
	@bash scripts/bootstrap.sh dev

clean:
	rm -rf output tests/_artifacts .pytest_cache
