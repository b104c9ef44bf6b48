"""What every command shares: how it fails and how it reads the configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ml_connector import kafka_security as security
from ml_connector.config import ConfigError, Settings, load_settings
from ml_connector.secrets import SecretStore


def fail(message: str) -> typer.Exit:
    """Print an error as plain text (never wrapped) and give the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def problem(message: str) -> typer.Exit:
    """A problem found rather than a usage error: print it as one line and give exit 1."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def kafka_bootstrap(settings: Settings) -> str:
    """The brokers, once they answered: a command that reads Kafka starts by asking for them,
    so that brokers down or refusing us cost one line naming them (exit 1), not a traceback
    after a minute of librdkafka retries."""
    from ml_connector.kafka.clients import KafkaUnreachable, cluster_metadata

    bootstrap = settings.kafka.bootstrap_servers
    if not bootstrap:
        raise fail("kafka.bootstrap_servers (or KAFKA_BOOTSTRAP_SERVERS) is required")
    try:
        cluster_metadata(bootstrap, timeout=REACH_SECONDS)
    except security.AccessError as exc:  # a credential the store lacks: configuration
        raise fail(str(exc)) from None
    except KafkaUnreachable as exc:
        raise problem(
            f"{exc} (check kafka.bootstrap_servers, that the brokers run, and kafka.security)"
        ) from None
    return bootstrap


REACH_SECONDS = 10.0


def can_listen(host: str, port: int) -> None:
    """Exit 1 naming the address when it cannot be listened on (a port taken, an address
    not this host's), before anything says it is served there."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
            probe.bind((host, port))
    except OSError as exc:
        raise problem(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def read_settings(path: Path) -> Settings:
    """The configuration, with this process's Kafka and registry clients set to use its
    credentials (resolved from the secret store when the first client is made)."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    security.configure(settings.kafka.security, settings.kafka.registry_auth,
                       lambda: SecretStore.from_config(settings.secrets))  # fmt: skip
    return settings


# What every listing command takes: a machine reads JSON, a person reads the table.
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def print_json(value: Any) -> None:
    """One JSON document on stdout, plain (no colours or wrapping) so that tools can read it."""
    typer.echo(json.dumps(value, indent=2, default=str))
