"""What the Business Central simulator is started with (also the base of the NAV options).

Kept apart from ``app`` so that the store, the seed and the handlers can read the options
without importing the module that assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from simulators.faults import FaultSettings
from simulators.seed import stable_guid

BC_MAX_PAGE_SIZE = 20000


@dataclass
class BusinessCentralOptions:
    tenant: str = "sim-tenant"
    # The directory (tenant) GUID; accepted wherever the tenant name is, as Entra and BC do.
    tenant_id: str = stable_guid("bc-tenant", "sim-tenant")
    environment: str = "production"
    company_name: str = "CRONUS USA, Inc."
    company_id: str | None = None  # None: a GUID derived from tenant, environment and name
    client_id: str = "mlc-client"
    client_secret: str = "mlc-secret"
    token_lifetime_seconds: int = 3599
    seed: int = 42
    vendor_count: int = 50
    customer_count: int = 20
    item_count: int = 20
    purchase_order_count: int = 10
    purchase_invoice_count: int = 10
    # Values of the COSTCENTER dimension as (code, name); None: four plants.
    cost_centers: tuple[tuple[str, str], ...] | None = None
    sales_invoice_count: int = 10
    records_per_timestamp: int = 3
    seed_epoch: datetime = datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
    tax_rate: float = 0.0  # share of line amounts added as tax to document totals
    page_size: int = BC_MAX_PAGE_SIZE  # server-driven page size when the client states none
    max_page_size: int = BC_MAX_PAGE_SIZE  # a larger odata.maxpagesize is refused with 413
    stale_etag_code: str = "Request_EntityChanged"  # UNCONFIRMED in apis.md
    # The vendor DELETE docs list If-Match as required; a switch in case real BC is laxer.
    require_if_match_on_delete: bool = True
    # Writes to a read-only entity set (accounts): BadRequest_MethodNotAllowed with this status.
    read_only_status: int = 400
    # documentAttachments content is held in memory: a larger upload is refused with 413.
    attachment_max_bytes: int = 5 * 1024 * 1024
    faults: FaultSettings = field(default_factory=FaultSettings)
    # Operational limits per user / service principal (administration/operational-limits).
    rate_limit_requests: int = 6000
    rate_limit_window_seconds: float = 300.0
    max_concurrent_requests: int = 5
    max_queued_requests: int = 95
    queue_timeout_seconds: float = 480.0  # a queued request waiting longer answers 503
    # Webhooks (api-reference/v2.0/dynamics-subscriptions).
    webhooks_enabled: bool = True
    notification_delay_seconds: float = 30.0  # BC batches changes this long after the first
    collection_threshold: int = 1000  # more changes in one window: one "collection" entry
    max_subscriptions: int = 200
    subscription_lifetime_seconds: float = 3 * 24 * 3600.0
    handshake_timeout_seconds: float = 5.0
    handshake_method: str = "POST"  # UNCONFIRMED in apis.md; receivers should accept both
    webhook_retry_initial_seconds: float = 60.0  # doubling from here...
    webhook_retry_window_seconds: float = 36 * 3600.0  # ...until BC's 36 hours are used up
    # Lets tests reach an in-process receiver (httpx.ASGITransport) for handshakes and
    # notifications; None sends real HTTP requests.
    delivery_transport: httpx.AsyncBaseTransport | None = None
