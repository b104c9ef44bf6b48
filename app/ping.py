"""``ml-connector ping``: every connection (and Kafka, and the registry) checked in turn."""

from __future__ import annotations

import asyncio

import httpx

from ml_connector import kafka_security as security
from ml_connector.api.client import RetryPolicy
from ml_connector.config import Settings
from ml_connector.kafka.clients import KafkaUnreachable, cluster_metadata
from ml_connector.kafka_security import AccessError
from ml_connector.ping import Check, Needs, reach, run_steps
from ml_connector.secrets import SecretError, SecretStore
from ml_connector.systems import system

# A ping answers in seconds: no long in-process retrying of a failing call.
PING_RETRY = RetryPolicy(attempts=2, max_wait=2.0, max_total=20.0)


def needs(settings: Settings, connection: str) -> Needs:
    flows = settings.flows.values()
    return Needs(
        reads=frozenset(e for f in flows if f.source == connection for e in f.entities),
        writes=frozenset(e for f in flows if f.target == connection for e in f.entities),
    )


async def ping_connection(
    settings: Settings, name: str, secrets: SecretStore | None
) -> list[Check]:
    conn = settings.connections[name]
    registered = system(conn.system)
    checks = await reach(conn.url, conn.verify, conn.timeout_seconds)
    if not all(c.ok for c in checks):
        return checks
    if secrets is None:
        return [*checks, Check("secrets", False, "no secret key to read the credentials with",
                               "set MLC_SECRET_KEY or secrets.key_file")]  # fmt: skip
    try:
        client = registered.client(conn, secrets, retry=PING_RETRY)
    except SecretError as exc:
        return [*checks, Check("secrets", False, str(exc),
                               "store it with: ml-connector secrets set NAME")]  # fmt: skip
    try:
        return checks + await run_steps(registered.probe(client, needs(settings, name)))
    finally:
        await client.aclose()


def ping_kafka(settings: Settings) -> list[Check]:
    bootstrap = settings.kafka.bootstrap_servers
    if not bootstrap:
        return [Check("kafka", False, "no bootstrap servers configured",
                      "set kafka.bootstrap_servers or KAFKA_BOOTSTRAP_SERVERS")]  # fmt: skip
    try:
        metadata = cluster_metadata(bootstrap, timeout=10)
    except AccessError as exc:
        return [Check("kafka", False, str(exc), "store it with: ml-connector secrets set NAME")]
    except KafkaUnreachable as exc:
        fix = ("check the bootstrap servers and that the brokers run, and kafka.security "
               "(protocol, CA, SASL user and password)")  # fmt: skip
        return [Check("kafka", False, str(exc), fix)]
    checks = [Check("kafka", True, f"{len(metadata.brokers)} broker(s) at {bootstrap}")]
    url = settings.kafka.schema_registry_url
    if url:
        checks.append(_ping_registry(url))
    return checks


def _ping_registry(url: str) -> Check:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        # The same client, credentials and CA as the workers' codec.
        client = SchemaRegistryClient({"url": url, **security.current().registry})
        subjects = client.get_subjects()
    except AccessError as exc:
        return Check("registry", False, str(exc), "store it with: ml-connector secrets set NAME")
    except (SchemaRegistryError, httpx.HTTPError, OSError, ValueError) as exc:
        fix = "check schema_registry_url, kafka.registry_auth and that the registry runs"
        return Check("registry", False, f"{url}: {exc}", fix)
    return Check("registry", True, f"{url}: {len(subjects)} subject(s)")


def ping_all(settings: Settings, connections: list[str], *, kafka: bool) -> list[tuple[str, Check]]:
    try:
        secrets: SecretStore | None = SecretStore.from_config(settings.secrets)
    except SecretError:
        secrets = None
    out: list[tuple[str, Check]] = []
    for name in connections:
        out += [(name, c) for c in asyncio.run(ping_connection(settings, name, secrets))]
    if kafka:
        out += [("kafka", c) for c in ping_kafka(settings)]
    return out
