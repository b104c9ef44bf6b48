"""A source stream: a declared read (``ml_connector.streams``) plus its canonical mapping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ml_connector import streams

Mapper = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class Stream(streams.Stream):
    entity: str  # canonical entity name (schemas/<entity>.avsc)
    to_canonical: Mapper
