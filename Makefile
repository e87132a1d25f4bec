# Two commands for a fresh machine (Python 3.11+ and make):
#   make demo   - install, create the SQLite database, load demo data, serve on http://127.0.0.1:5000
#   make test   - install test dependencies, run the whole suite on SQLite and on PostgreSQL
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install openapi bench

$(BIN)/onsite: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/onsite

demo: install
	$(BIN)/onsite db upgrade
	$(BIN)/onsite demo-data
	$(BIN)/onsite serve --host 127.0.0.1 --port 5000

test: install
	bash scripts/test.sh

openapi: install
	$(BIN)/onsite openapi
