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

.PHONY: install demo test bench dashboard compose-tool postgres-server prometheus-server browser
install: $(STAMP)

# The audit index's PostgreSQL test starts a throwaway server from Debian's package.
postgres-server:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    { apt-get install -y -q postgresql >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }; }; } || \
	  echo "PostgreSQL's server is missing: install Debian's postgresql package"

# $(call debian_tool,COMMAND,PACKAGE): install Debian's PACKAGE unless COMMAND is on PATH
# (as root with apt-get; the package lists are refreshed only when the first try fails).
debian_tool = command -v $(1) >/dev/null 2>&1 || \
  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
    { apt-get install -y -q --no-install-recommends $(2) >/dev/null 2>&1 || \
      { apt-get update -q >/dev/null && \
        apt-get install -y -q --no-install-recommends $(2) >/dev/null; }; }; } || \
  echo "$(1) is missing: install Debian's $(2) package"

# The dashboard's test scrapes the workers with a real Prometheus from Debian's package.
prometheus-server:
	@$(call debian_tool,prometheus,prometheus)

# The status page's test renders it in Debian's headless chromium.
browser:
	@$(call debian_tool,chromium,chromium)

# docker-compose.yml is validated by a compose implementation; Debian's package provides one.
compose-tool:
	@command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    { apt-get install -y -q docker-compose >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q docker-compose >/dev/null; }; }; } || \
	  echo "docker-compose is missing: install Debian's docker-compose package"

demo: $(STAMP)
	$(BIN)/ml-connector demo

test: $(STAMP) compose-tool postgres-server prometheus-server browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -ra

# The Grafana dashboard is generated (app/dashboard.py); a test checks the committed JSON.
dashboard: $(STAMP)
	$(BIN)/python -m app.dashboard

bench: $(STAMP)
	$(BIN)/python -m bench
