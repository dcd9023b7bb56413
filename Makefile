# The README's commands. Python 3.11 (the engine's interpreter; Nuke's own Python never runs this).
PYTHON ?= python3.11
VENV := .venv

.PHONY: install test test-fast lint

install:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(VENV)/bin/python -m pip check
	$(VENV)/bin/latentswap --version

test: lint
	$(VENV)/bin/python -m pytest -q

test-fast: lint  # the edit loop: everything but the tests marked slow (CI runs them all)
	$(VENV)/bin/python -m pytest -q -m "not slow"

lint:
	$(VENV)/bin/ruff check .
