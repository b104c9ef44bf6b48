"""Which Kafka to use: configured, else a Docker engine via testcontainers, else embedded."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from devkit.embedded import EmbeddedBroker

log = logging.getLogger(__name__)


@dataclass
class KafkaRuntime:
    bootstrap_servers: str
    how: str  # configured | testcontainers | embedded
    _close: Callable[[], None] = field(default=lambda: None, repr=False)
    embedded: EmbeddedBroker | None = None

    def close(self) -> None:
        self._close()

    def __enter__(self) -> KafkaRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def docker_engine_answers() -> bool:
    """True only when an engine answers a ping; the docker CLI alone proves nothing."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means no engine answers
        return False


def _testcontainers() -> KafkaRuntime:
    from testcontainers.kafka import KafkaContainer

    container = KafkaContainer().with_kraft()
    container.start()
    return KafkaRuntime(container.get_bootstrap_server(), "testcontainers", container.stop)


def acquire_kafka(configured: str | None) -> KafkaRuntime:
    if configured:
        return KafkaRuntime(configured, "configured")
    if docker_engine_answers():
        if importlib.util.find_spec("testcontainers") is None:
            # testcontainers is the 'docker' extra; without it the embedded broker serves.
            log.info("a Docker engine answered but testcontainers is not installed")
        else:
            log.info("a Docker engine answered; starting Kafka with testcontainers")
            return _testcontainers()
    broker = EmbeddedBroker().start()
    return KafkaRuntime(broker.bootstrap_servers, "embedded", broker.stop, embedded=broker)


@dataclass
class RegistryRuntime:
    url: str | None  # None: no registry, values use Avro single-object encoding
    how: str  # configured | embedded | none
    _close: Callable[[], None] = field(default=lambda: None, repr=False)

    def close(self) -> None:
        self._close()


def acquire_registry(configured: str | None) -> RegistryRuntime:
    """A configured registry, else Apicurio from Maven Central, else none (single-object)."""
    if configured:
        return RegistryRuntime(configured, "configured")
    from devkit.java import JavaServiceError
    from devkit.registry import EmbeddedRegistry

    try:
        registry = EmbeddedRegistry().start()
    except JavaServiceError as exc:
        log.warning("no Schema Registry (%s); values use Avro single-object encoding", exc)
        return RegistryRuntime(None, "none")
    return RegistryRuntime(registry.url, "embedded", registry.stop)
