"""What the Acumatica simulator is started with: tenant, credentials, seed sizes, push
notifications and licence limits.

Kept apart from ``app`` so that the store, the seed and the sign-in can read the options without
importing the module that assembles them. ``PushNotification`` lives here too: the options
carry the notifications configured at start, and ``push`` (which renders rows from the store)
sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from simulators.acumatica.limits import LicenceLimits
from simulators.faults import FaultSettings
from simulators.seed import stable_guid


@dataclass
class PushNotification:
    name: str  # sent as "Query"
    entity: str
    url: str
    header_name: str = "X-MLC-Push-Secret"
    header_value: str = "mlc-push-secret"

    @property
    def id(self) -> str:
        return stable_guid("acumatica-push", self.name)


@dataclass
class AcumaticaOptions:
    tenant: str = "MLC"  # the company (tenant) name users sign in to
    client_id: str = "6F0B7A52-3F1E-4C55-9D0A-5B2C1C7E9A10"  # sent as "{client_id}@{tenant}"
    client_secret: str = "mlc-secret"
    username: str = "mlc.integration"
    password: str = "mlc-password"
    default_branch: str = "HEADOFFICE"
    endpoint: str = "Default"
    # The instance's time zone, in which a filter's datetime'...' literal (no offset) is read.
    time_zone: str = "UTC"
    versions: tuple[str, ...] = ("23.200.001", "24.200.001")
    token_lifetime_seconds: int = 3600
    refresh_chain_seconds: int = 30 * 24 * 3600
    session_timeout_seconds: int = 1200
    max_api_sessions: int = 2  # API users the licence allows signed in at once
    seed: int = 42
    vendor_count: int = 50
    purchase_order_count: int = 15
    bill_count: int = 30
    check_count: int = 8
    records_per_timestamp: int = 3
    seed_epoch: datetime = datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
    action_seconds: float = 0.0  # how long a long-running action takes (simulator clock)
    push_notifications: tuple[PushNotification, ...] = ()
    push_retry_delays: tuple[float, ...] = (10, 30, 60, 120)  # five attempts in all
    retry_scale: float = 1.0
    auto_dispatch: bool = True
    delivery_transport: httpx.AsyncBaseTransport | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)
    licence: LicenceLimits = field(default_factory=LicenceLimits)
    max_concurrent_requests: int | None = None  # per licence; None: not metered
