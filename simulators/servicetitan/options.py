"""What the ServiceTitan simulator is started with: tenant, credentials, seed sizes, webhooks.

Kept apart from ``app`` so that the store and the seed can read the options without importing
the module that assembles them. ``WebhookSubscription`` lives here too: the options carry the
subscriptions configured at start, and ``webhooks`` (which renders rows from the store) sends
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from simulators.faults import FaultSettings


@dataclass
class WebhookSubscription:
    url: str
    events: tuple[str, ...] = ("invoice.created", "invoice.updated", "payment.created")
    hmac_key: str | None = None

    def __post_init__(self) -> None:
        self.events = tuple(self.events)
        if self.hmac_key is not None and not 32 <= len(self.hmac_key) <= 64:
            raise ValueError("The HMAC key must be 32 to 64 characters long.")


@dataclass
class ServiceTitanOptions:
    tenant_id: int = 1234567
    client_id: str = "cid.mlc-sim"
    client_secret: str = "cs1.mlc-secret"
    app_key: str = "ak1.mlc-app-key"
    token_lifetime_seconds: int = 900
    seed: int = 42
    customer_count: int = 40
    invoice_count: int = 60
    payment_count: int = 20
    purchase_order_count: int = 10
    records_per_timestamp: int = 3
    seed_epoch: datetime = datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
    export_page_size: int = 500
    webhook_subscriptions: tuple[WebhookSubscription, ...] = ()
    signature_header: str = "x-servicetitan-signature"
    signature_encoding: str = "base64"  # or "hex"
    webhook_retry_delays: tuple[float, ...] = (10, 30, 60, 300)
    retry_scale: float = 1.0
    auto_dispatch: bool = True
    delivery_transport: httpx.AsyncBaseTransport | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)
    # UNCONFIRMED: no published text gives the longest pricebook code; None takes any length,
    # a number refuses longer codes as ASP.NET's StringLength validation words it.
    code_max_length: int | None = None
    # Per app key and tenant (a secondary source gives 60 per second).
    rate_limit_requests: int = 60
    rate_limit_window_seconds: float = 1.0
