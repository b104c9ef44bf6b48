# The two commands a fresh machine needs: `make demo` and `make test`.
# Both create .venv on first use and install the project into it; nothing else is installed
# by hand. Kafka comes from KAFKA_BOOTSTRAP_SERVERS, a Docker engine, or Maven Central jars.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: install demo test lint bench
install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ml-connector demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -ra

bench: $(STAMP)
	$(BIN)/python -m bench
