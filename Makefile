# The README's commands. Python 3.11 (the engine's interpreter; Nuke's own Python never runs this).
PYTHON ?= python3.11
VENV := .venv

.PHONY: install test test-fast lint

install:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(VENV)/bin/python -m pip check
	$(VENV)/bin/latentswap --version

# a worker per core (at most 4); tests sharing a module's fixtures stay in one worker (tests/conftest.py)
PARALLEL := -n auto --maxprocesses 4 --dist loadgroup

test: lint
	$(VENV)/bin/python -m pytest -q $(PARALLEL)

test-fast: lint  # the edit loop: everything but the tests marked slow (CI runs them all)
	$(VENV)/bin/python -m pytest -q $(PARALLEL) -m "not slow"

lint:
	$(VENV)/bin/ruff check .
