"""What every worker process counts, in Prometheus' terms (served by ``app.health``).

Stage outcomes come from the audit trail itself (every record a stage handles is audited
once), so the counters and ``ml-connector audit`` cannot disagree: retries and dead letters
are the ``retried`` and ``dead`` stages of ``mlc_records``. API calls are counted by the HTTP
transport every client shares, pauses and write latency by the loops every worker shares.

Labels name configured things only (components, connections, entities, hosts, groups,
partitions), never records, so the number of series stays bounded by the configuration.
"""

from __future__ import annotations

import time

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
THROTTLED_SECONDS = Counter(
    "mlc_api_throttled_seconds", "Seconds a connection's requests were held back by 429 "
    "answers (Retry-After), by host", ["host"],
)  # fmt: skip
PAUSED = Gauge(
    "mlc_worker_paused", "1 while a worker waits out a peer refusing everything", ["worker"]
)
BACKOFFS = Counter("mlc_worker_backoffs", "Times a worker paused everything", ["worker"])
HEARTBEAT = Gauge(
    "mlc_loop_heartbeat_seconds", "When each loop of a worker last came round (epoch seconds)",
    ["loop"],
)  # fmt: skip
WRITE_SECONDS = Histogram(
    "mlc_write_seconds", "Time a target took to settle one record (the writer's whole upsert, "
    "in-process retries included), by target connection and entity",
    ["target", "entity"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)  # fmt: skip
END_TO_END_SECONDS = Histogram(
    "mlc_end_to_end_seconds", "From the change in the source (its modified time) to the "
    "target confirming the write, by target connection and entity",
    ["target", "entity"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 6 * 3600, 24 * 3600),
)  # fmt: skip
CONSUMER_LAG = Gauge(
    "mlc_consumer_lag", "Records on a partition that its consumer group has not committed past",
    ["group", "topic", "partition"],
)  # fmt: skip
CURSOR_AGE = Gauge(
    "mlc_cursor_age_seconds", "Age of the newest record the polls of a stream have read "
    "(grows while the source has no changes, or while polls fail)", ["connection", "entity"],
)  # fmt: skip
TOKENS = Counter(
    "mlc_token_refreshes", "Credentials obtained from a token or login endpoint, by connection "
    "and grant (login, refresh, session)", ["connection", "grant"],
)  # fmt: skip
SUBSCRIPTION_EXPIRY = Gauge(
    "mlc_subscription_expiry_seconds", "Seconds until a change subscription expires "
    "(negative once it has)", ["connection", "resource"],
)  # fmt: skip

WEBHOOKS_REFUSED = Counter(
    "mlc_webhooks_refused", "Webhook requests the receiver refused, by connection and reason "
    "(unauthenticated: a missing or wrong signature, secret or clientState; malformed: a body "
    "it cannot read)",
    ["connection", "reason"],
)  # fmt: skip
TASK_HELD = Gauge(
    "mlc_producer_task_held", "1 while this producer instance holds a poll task (summed over "
    "the instances: 1 per task once the group settled)", ["flow", "connection", "entity"],
)  # fmt: skip


def age(gauge: Gauge, since_epoch: float) -> None:
    """``gauge`` reads the seconds since ``since_epoch`` whenever it is scraped."""
    gauge.set_function(lambda: time.time() - since_epoch)


def countdown(gauge: Gauge, until_epoch: float) -> None:
    """``gauge`` reads the seconds left until ``until_epoch`` whenever it is scraped."""
    gauge.set_function(lambda: until_epoch - time.time())
