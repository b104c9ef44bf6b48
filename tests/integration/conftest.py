"""Fixtures for the integration tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest


@pytest.fixture
def vendor_event() -> dict[str, Any]:
    return {
        "before": None,
        "after": {"number": "V1", "name": "Acme", "balance": Decimal("12.5000"), "blocked": False},
        "op": "r",
        "source": {
            "system": "business_central", "connection": "bc", "company": None,
            "entity": "vendor", "native_id": "abc", "native_version": "W/1",
            "modified_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "seen_via": "poll",
        },
        "ts_ms": 1,
        "event_id": "e1",
        "native": "{}",
    }  # fmt: skip
