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
