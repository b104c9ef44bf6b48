"""What every command shares: how it fails and how it reads the configuration."""

from __future__ import annotations

from pathlib import Path

import typer

from ml_connector.config import ConfigError, Settings, load_settings


def fail(message: str) -> typer.Exit:
    """Print an error as plain text (never wrapped) and give the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def read_settings(path: Path) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None
