# One command to scan, one to test. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TARGET ?= .

.PHONY: scan test install dev lint clean

$(BIN)/leakwarden: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/leakwarden

## make scan [TARGET=folder]: install, then scan a folder (default: this one)
scan: install
	$(BIN)/leakwarden scan path $(TARGET)

## make test: install, then run the whole test suite
test: install
	$(BIN)/python -m pytest -n auto -q

lint: install
	$(BIN)/pip install --quiet ruff mypy
	$(BIN)/ruff check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache build dist
