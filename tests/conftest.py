"""Shared fixtures. Kafka-backed tests use one real broker per session.

The broker is whatever ``acquire_kafka`` picks: KAFKA_BOOTSTRAP_SERVERS if set, else a Docker
engine through testcontainers, else the project's own Apache Kafka from Maven jars. If it
cannot start, every test that needs it errors: nothing is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devkit.registry import EmbeddedRegistry
from devkit.runtime import KafkaRuntime, acquire_kafka
from ml_connector import kafka_security


@pytest.fixture(autouse=True)
def _plain_kafka_access() -> Iterator[None]:
    """A command run in-process sets its config's Kafka credentials for the process; the
    next test starts from plain clients again."""
    yield
    kafka_security.reset()


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaRuntime]:
    runtime = acquire_kafka(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture(scope="session")
def bootstrap(kafka: KafkaRuntime) -> str:
    return kafka.bootstrap_servers


@pytest.fixture(scope="session")
def registry_url() -> Iterator[str]:
    """A real Schema Registry: SCHEMA_REGISTRY_URL if set, else Apicurio from Maven Central.

    Unlike the product's fallback to single-object encoding, tests fail when it cannot start.
    """
    configured = os.environ.get("SCHEMA_REGISTRY_URL")
    if configured:
        yield configured
        return
    with EmbeddedRegistry() as registry:
        yield registry.url
