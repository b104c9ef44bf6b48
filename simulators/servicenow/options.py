"""What the ServiceNow simulator is started with: credentials, seed sizes, tables, rules.

Kept apart from ``app`` so that the store and the seed can read the options without importing
the module that assembles them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from simulators.faults import FaultSettings
from simulators.servicenow.catalog import ALL_TABLES, TABLE_ALIASES
from simulators.servicenow.import_sets import TransformMap
from simulators.servicenow.maps import DEFAULT_TRANSFORM_MAPS
from simulators.servicenow.push import PushRule
from simulators.servicenow.tables import TableDef

DEFAULT_ROLES = (
    "rest_service",
    "import_transformer",
    "sn_ap_apm.accounts_payable_specialist",
    "procurement_user",
)


@dataclass
class ServiceNowOptions:
    instance: str = "dev-sim"
    client_id: str = "mlc-client"
    client_secret: str = "mlc-secret"
    username: str = "mlc.integration"
    password: str = "mlc-password"
    # glide.oauth.inbound.client.credential.grant_type.enabled on the instance.
    client_credentials_enabled: bool = True
    access_token_lifetime_seconds: int = 1799
    refresh_token_lifetime_seconds: int = 100 * 24 * 3600
    seed: int = 42
    seed_epoch: datetime = datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
    company_count: int = 10  # seeded core_company rows that are not vendors
    currencies: tuple[str, ...] = ("USD", "CAD", "EUR", "GBP")  # seeded fx_currency codes
    preexisting_vendor_numbers: tuple[str, ...] = ()  # seeded vendor rows, e.g. ("v00010",)
    user_roles: tuple[str, ...] = DEFAULT_ROLES
    default_limit: int = 10000
    # The real instance answers 400 "Invalid table"; apis.md says 404. Switchable.
    unknown_table_status: int = 400
    # glide.invalid_query.returns_no_rows
    invalid_query_returns_no_rows: bool = False
    tables: tuple[TableDef, ...] = ALL_TABLES
    table_aliases: Mapping[str, str] = field(default_factory=lambda: dict(TABLE_ALIASES))
    transform_maps: tuple[TransformMap, ...] = DEFAULT_TRANSFORM_MAPS
    supplier_count: int = 10  # sn_fin_supplier rows, keyed V00010, V00020, ... as BC's vendors
    purchase_order_count: int = 5  # each in sn_shop_purchase_order and proc_po, with lines
    invoice_count: int = 5  # sn_shop_invoice rows with lines
    # cmn_cost_center rows documents are charged to, as (code, name); None: four plants.
    cost_centers: tuple[tuple[str, str], ...] | None = None
    # (account number, name, type) seeded in the GL account tables; None: the default chart.
    gl_accounts: tuple[tuple[str, str, str], ...] | None = None
    push: PushRule | None = None  # the Business Rule push accelerator; None: not installed
    # Lets tests reach an in-process receiver (httpx.ASGITransport); None: real HTTP.
    delivery_transport: httpx.AsyncBaseTransport | None = None
    # com.glide.attachment.max_size: 1024 MB on the platform; files are held in memory here,
    # so the default is smaller. A larger file is refused, never truncated.
    attachment_max_bytes: int = 5 * 1024 * 1024
    faults: FaultSettings = field(default_factory=FaultSettings)
    # An admin-defined rate limit rule (sys_rate_limit_rules); None: no rule, as on a new
    # instance. The window is an hour on the platform; shorter ones are for tests.
    rate_limit_requests: int | None = None
    rate_limit_window_seconds: float = 3600.0
    rate_limit_path_pattern: str = r"^/api/now/table/"
    rate_limit_api_name: str = "Table API"
    rate_limit_rule_sys_id: str = "8f7a1c2e4b5d6e7f8a9b0c1d2e3f4a5b"
