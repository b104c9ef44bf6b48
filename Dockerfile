# The connector image: one image, one worker kind per container (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ml_connector ml_connector
COPY producers producers
COPY processors processors
COPY sinks sinks
COPY app app
COPY devkit devkit
COPY schemas schemas
COPY simulators simulators
RUN pip install --no-cache-dir . && useradd --system --uid 10001 mlc
USER mlc
ENTRYPOINT ["ml-connector"]
CMD ["--help"]
