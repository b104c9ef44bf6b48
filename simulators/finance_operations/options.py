"""What the Dynamics 365 F&O simulator is started with: credentials, companies, seed sizes,
business event endpoints and limits.

Kept apart from ``app`` so that the store and the seed can read the options without importing
the module that assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from simulators.faults import FaultSettings
from simulators.finance_operations.events import BusinessEventEndpoint
from simulators.seed import stable_guid

FNO_MAX_PAGE_SIZE = 10000


@dataclass
class FinanceOperationsOptions:
    environment: str = "mlc-sim"  # the {env} of https://{env}.operations.dynamics.com
    tenant: str = "sim-tenant"
    tenant_id: str = stable_guid("fno-tenant", "sim-tenant")
    client_id: str = "mlc-client"
    client_secret: str = "mlc-secret"
    token_lifetime_seconds: int = 3599
    legal_entity: str = "usmf"  # the default company of the integration user
    other_legal_entities: tuple[str, ...] = ("usrt",)
    seed: int = 42
    vendor_count: int = 50
    purchase_order_count: int = 20
    invoice_count: int = 20
    records_per_timestamp: int = 3
    seed_epoch: datetime = datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
    # Standard entities expose no modified stamp; a customer may add one (UNCONFIRMED).
    modified_field: str | None = None
    page_size: int = FNO_MAX_PAGE_SIZE
    # What the GetApplicationVersion / GetPlatformBuildVersion actions answer.
    application_version: str = "10.0.40"
    platform_build_version: str = "7.0.7198.105"
    # Status of write failures (duplicate key, posted document, missing header); UNCONFIRMED.
    write_error_status: int = 400
    business_event_endpoints: tuple[BusinessEventEndpoint, ...] = ()
    event_retry_delays: tuple[float, ...] = (15, 60, 300)
    retry_scale: float = 1.0
    auto_dispatch: bool = True
    delivery_transport: httpx.AsyncBaseTransport | None = None
    initiating_user_object_id: str = stable_guid("fno-user", "admin")
    faults: FaultSettings = field(default_factory=FaultSettings)
    # Service protection API limits per user (service-protection-api-limits.md).
    rate_limit_requests: int = 6000
    rate_limit_window_seconds: float = 300.0
    max_concurrent_requests: int | None = None  # 52 on older versions; None: not metered
