"""Where each component's health listener sits: ``metrics.port`` plus its offset, one port per
process on one host. Kept apart from ``app.health`` so that the container's HEALTHCHECK,
which runs every few seconds, can find the ports without importing the Kafka client."""

from __future__ import annotations

OFFSETS = {"producers": 0, "processors": 1, "sinks": 2, "audit": 3, "webhooks": 4}
