# One-command set-up: `make run` chats with the cars bot, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/flowbot run flows/cars.yaml

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/flowbot validate --strict flows/*.yaml
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/turns.py
	$(BIN)/python benchmarks/llm_cost.py
	$(BIN)/python benchmarks/convo_tests.py
