"""What every worker process counts, in Prometheus' terms (served by ``app.health``).

Stage outcomes come from the audit trail itself (every record a stage handles is audited
once), so the counters and ``ml-connector audit`` cannot disagree. API calls are counted by
the HTTP transport every client shares, pauses by the worker loop.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter(
    "mlc_records", "Records by the stage outcome they reached (the audit stages)",
    ["component", "stage", "connection", "entity"],
)  # fmt: skip
API_CALLS = Counter(
    "mlc_api_requests", "HTTP requests to the systems, by host, method and status",
    ["host", "method", "status"],
)  # fmt: skip
API_SECONDS = Histogram(
    "mlc_api_request_seconds", "HTTP request latency to the systems, by host", ["host"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)  # fmt: skip
THROTTLED = Counter("mlc_api_throttled", "429 answers that paused a connection, by host", ["host"])
PAUSED = Gauge(
    "mlc_worker_paused", "1 while a worker waits out a peer refusing everything", ["worker"]
)
BACKOFFS = Counter("mlc_worker_backoffs", "Times a worker paused everything", ["worker"])
