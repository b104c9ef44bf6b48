# The connector image: one image, one worker kind per container (docker-compose.yml,
# deploy/kubernetes/). Two stages: the builder installs the project into a virtualenv, the
# runtime gets that virtualenv and nothing else (no pip cache, no build tools, no sources).
#
# The base is pinned to a Python patch release on a Debian release; pin its digest as well
# where the registry can be asked for it (`docker buildx imagetools inspect IMAGE`):
#   FROM python:3.11.14-slim-bookworm@sha256:<digest>

FROM python:3.11.14-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from the metadata alone, so a source change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install --requirement /tmp/requirements.txt
COPY ml_connector ml_connector
COPY producers producers
COPY processors processors
COPY sinks sinks
COPY app app
COPY devkit devkit
COPY schemas schemas
COPY simulators simulators
# The simulators and the dev-time provisioning (embedded broker, testcontainers) are for
# tests and `ml-connector demo`, which runs on a workstation, not in this image: the wheel
# carries them, the runtime drops them, and the import below proves the workers do not
# need them.
RUN pip install --no-deps . \
 && rm -rf /opt/venv/lib/python3.11/site-packages/devkit \
           /opt/venv/lib/python3.11/site-packages/simulators \
 && python -c "import app.cli, app.pipeline, app.healthcheck, processors.app, sinks.runner" \
 && ml-connector --help >/dev/null

FROM python:3.11.14-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MLC_CONFIG=config/ml-connector.yaml \
    MLC_METRICS_LISTEN_HOST=0.0.0.0
RUN groupadd --system --gid 10001 mlc \
 && useradd --system --uid 10001 --gid mlc --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin mlc \
 && mkdir -p /app/config /app/data \
 && chown mlc:mlc /app/data
COPY --from=builder /opt/venv /opt/venv
# Paths in the config are relative to /app, as they are to the checkout on a workstation:
# config/ (mounted read-only: the YAML and the encrypted store) and data/ (the audit index,
# written by the audit worker, so owned by the user the workers run as).
WORKDIR /app
VOLUME ["/app/data"]
USER 10001:10001
# The readiness of whichever worker kind runs here (see app/healthcheck.py): Kafka reachable,
# no worker paused, every loop coming round.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["python", "-m", "app.healthcheck"]
ENTRYPOINT ["ml-connector"]
CMD ["--help"]
