"""The one YAML file: ``kafka``, ``secrets``, ``connections`` and ``flows``.

Models are strict (unknown keys are errors) because a misspelt key silently ignored is the
most expensive kind of configuration bug: the flow runs, just not as the operator meant.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ml_connector.topics import Topics


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names every bad key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Model):
    """A pointer into the encrypted secret store; secrets never sit in the YAML file."""

    secret: str = Field(min_length=1, description="name of the secret in the store")


class KafkaConfig(_Model):
    bootstrap_servers: str | None = Field(
        default=None, description="host:port list; KAFKA_BOOTSTRAP_SERVERS overrides it"
    )
    schema_registry_url: str | None = Field(
        default=None, description="Confluent-compatible registry; SCHEMA_REGISTRY_URL overrides"
    )
    topic_prefix: str = Field(default="mlc", pattern=r"^[A-Za-z0-9_-]+$")
    partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)


class SecretsConfig(_Model):
    store: Path = Field(default=Path(".mlc/secrets.json"), description="encrypted secret file")
    key_file: Path | None = Field(
        default=None, description="Fernet key file; MLC_SECRET_KEY overrides it"
    )


class EntraClientCredentials(_Model):
    kind: Literal["entra_client_credentials"]
    token_url: str = Field(
        description="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    )
    client_id: str
    client_secret: SecretRef
    scope: str = "https://api.businesscentral.dynamics.com/.default"


class ServiceNowAuth(_Model):
    """OAuth client credentials, falling back to basic auth where the grant is disabled."""

    kind: Literal["servicenow"]
    client_id: str | None = None
    client_secret: SecretRef | None = None
    username: str | None = None
    password: SecretRef | None = None
    grant: Literal["client_credentials", "password", "basic"] = Field(
        default="client_credentials",
        description="OAuth grant; password brings a refresh token; basic skips OAuth",
    )

    @model_validator(mode="after")
    def _one_way_in(self) -> ServiceNowAuth:
        oauth = self.client_id is not None and self.client_secret is not None
        basic = self.username is not None and self.password is not None
        if not (oauth or basic):
            raise ValueError("give client_id + client_secret, or username + password, or both")
        if self.grant == "password" and not (oauth and basic):
            raise ValueError("grant 'password' needs client_id, client_secret, username, password")
        return self


class RateLimit(_Model):
    """A connection's client-side budget: ``requests`` per moving ``per_seconds``, and at most
    ``concurrency`` at once (None: no cap of that kind)."""

    requests: int | None = Field(default=None, ge=1)
    per_seconds: float = Field(default=1.0, gt=0)
    concurrency: int | None = Field(default=None, ge=1)


# The vendors' documented ceilings; where none is documented, a modest concurrency cap.
DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    "business_central": RateLimit(requests=6000, per_seconds=300, concurrency=5),
    "nav": RateLimit(concurrency=5),
    "finance_operations": RateLimit(requests=6000, per_seconds=300, concurrency=52),
    "servicenow": RateLimit(concurrency=8),
    "servicetitan": RateLimit(requests=60, per_seconds=1, concurrency=10),
    "acumatica": RateLimit(concurrency=5),
}


class _Connection(_Model):
    """What every connection has besides its system's own keys."""

    verify: bool | str = Field(
        default=True, description="verify TLS: true, false, or the path of a CA bundle"
    )
    timeout_seconds: float = Field(default=100.0, gt=0)
    rate_limit: RateLimit | None = Field(
        default=None, description="client-side budget; defaults to the system's documented one"
    )

    @property
    def rate(self) -> RateLimit:
        system: str = getattr(self, "system", "")
        return self.rate_limit or DEFAULT_RATE_LIMITS.get(system, RateLimit())


class BusinessCentralConnection(_Connection):
    system: Literal["business_central"]
    base_url: str = "https://api.businesscentral.dynamics.com"
    tenant: str | None = Field(default=None, description="optional tenant segment of the URL")
    environment: str
    company_id: str | None = Field(default=None, description="defaults to the first company")
    api_version: str = "v2.0"
    page_size: int = Field(default=1000, ge=1, le=20000)
    auth: EntraClientCredentials
    webhooks: bool = Field(
        default=False,
        description="subscribe to change notifications (see the top-level 'webhooks' section)",
    )


class StagingTable(_Model):
    """Where one canonical entity lands in ServiceNow: an Import Set staging table."""

    staging: str
    target: str
    coalesce: str = Field(description="staging column the transform map coalesces on")
    target_key: str = Field(description="the target table's column that column lands in")


def _default_sn_tables() -> dict[str, StagingTable]:
    """The Source-to-Pay staging tables the documentation names; override per instance."""
    return {
        "vendor": StagingTable(
            staging="sn_fcms_intg_imp_supplier", target="core_company",
            coalesce="u_vendor_number", target_key="u_vendor_number",
        ),
        "gl_account": StagingTable(
            staging="sn_fcms_intg_gl_account_stage", target="sn_fin_gl_account",
            coalesce="u_account_number", target_key="account_number",
        ),
        "cost_center": StagingTable(
            staging="sn_fcms_intg_imp_cost_center", target="cmn_cost_center",
            coalesce="u_code", target_key="code",
        ),
        # No item staging table is documented: an admin creates this one and its transform
        # map into the product catalog (see the README), or names their own here.
        "item": StagingTable(
            staging="u_mlc_imp_item", target="pc_product_cat",
            coalesce="u_item_number", target_key="u_erp_item_number",
        ),
        # ERP invoices go back only as what the ERP did with them (posted, paid), onto the
        # ServiceNow invoice they came from: the invoice payment detail import.
        "purchase_invoice": StagingTable(
            staging="sn_spend_intg_imp_invoice_payment_detail", target="sn_shop_invoice",
            coalesce="u_number", target_key="number",
        ),
    }  # fmt: skip


class SourceTable(_Model):
    """Where ServiceNow keeps one kind of document read as a source: header and line tables.

    Known tables (sn_shop_purchase_order, proc_po, sn_shop_invoice, sn_apo_invoice) bring their
    line table, parent reference and column names; other tables need them spelt out.
    """

    table: str
    line_table: str | None = Field(default=None, description="default: the known table's")
    line_parent: str | None = Field(
        default=None, description="the line table's reference to its header"
    )
    query: str | None = Field(
        default=None,
        description="encoded query ANDed to every read; default: approved invoices only",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="canonical header field -> column or dot-walked path, over the defaults",
    )
    line_columns: dict[str, str] = Field(
        default_factory=dict, description="canonical line field -> column, over the defaults"
    )


# Only approved orders and AP invoices may reach the books; an override that names another
# table keeps this filter unless it says otherwise (query: "" reads every document).
_DEFAULT_SOURCE_QUERIES = {
    "purchase_order": "approval=approved",
    "purchase_invoice": "approval=approved",
}


def _default_sn_sources() -> dict[str, SourceTable]:
    return {
        "purchase_order": SourceTable(
            table="sn_shop_purchase_order", query=_DEFAULT_SOURCE_QUERIES["purchase_order"]
        ),
        "purchase_invoice": SourceTable(
            table="sn_shop_invoice", query=_DEFAULT_SOURCE_QUERIES["purchase_invoice"]
        ),
    }


class ServiceNowPush(_Model):
    """An admin's Business Rule + Outbound REST Message posting changes to the connector:
    an optional accelerator beside polling, authenticated by a shared-secret header."""

    header: str = Field(default="X-MLC-Push-Secret", description="header carrying the secret")
    secret: SecretRef


class ServiceNowConnection(_Connection):
    system: Literal["servicenow"]
    instance_url: str = Field(description="https://<instance>.service-now.com")
    auth: ServiceNowAuth
    tables: dict[str, StagingTable] = Field(
        default_factory=_default_sn_tables,
        description="per entity; entries given here replace the defaults of those entities only",
    )
    push: ServiceNowPush | None = Field(
        default=None, description="accept Business Rule pushes at the webhook receiver"
    )
    source_tables: dict[str, SourceTable] = Field(
        default_factory=_default_sn_sources,
        description="documents read when this connection is a flow's source, per entity",
    )
    page_size: int = Field(default=1000, ge=1, le=10000)

    @field_validator("tables", mode="after")
    @classmethod
    def _over_defaults(cls, value: dict[str, StagingTable]) -> dict[str, StagingTable]:
        return {**_default_sn_tables(), **value}

    @field_validator("source_tables", mode="after")
    @classmethod
    def _sources_over_defaults(cls, value: dict[str, SourceTable]) -> dict[str, SourceTable]:
        merged = {**_default_sn_sources(), **value}
        return {
            entity: t if t.query is not None else
            t.model_copy(update={"query": _DEFAULT_SOURCE_QUERIES.get(entity, "")})
            for entity, t in merged.items()
        }  # fmt: skip


class NavBasicAuth(_Model):
    """NAV / BC on-premises: a user name and its web service access key as the password."""

    kind: Literal["nav_basic"]
    username: str
    access_key: SecretRef


class NavConnection(_Connection):
    system: Literal["nav"]
    base_url: str = Field(description="https://<host>:7048 (the OData port)")
    server_instance: str = Field(description="e.g. BC240 or DynamicsNAV110")
    company_id: str | None = Field(default=None, description="API v2.0; defaults to the first")
    company_name: str | None = Field(
        default=None, description="legacy ODataV4 pages address the company by name"
    )
    api_version: str = "v2.0"
    page_size: int = Field(default=1000, ge=1, le=20000)
    auth: Annotated[NavBasicAuth | EntraClientCredentials, Field(discriminator="kind")]


class FinanceOperationsConnection(_Connection):
    system: Literal["finance_operations"]
    base_url: str = Field(description="https://<env>.operations.dynamics.com")
    company: str | None = Field(
        default=None, description="dataAreaId (legal entity); none reads across companies"
    )
    page_size: int = Field(default=1000, ge=1, le=10000)
    auth: EntraClientCredentials

    @model_validator(mode="before")
    @classmethod
    def _scope_of_environment(cls, data: Any) -> Any:
        # The Entra scope is the environment's own URL, not BC's default.
        if isinstance(data, dict) and isinstance(data.get("auth"), dict):
            auth = data["auth"]
            if "scope" not in auth and isinstance(data.get("base_url"), str):
                scope = data["base_url"].rstrip("/") + "/.default"
                data = {**data, "auth": {**auth, "scope": scope}}
        return data


class AcumaticaOAuth(_Model):
    kind: Literal["acumatica_oauth"]
    client_id: str = Field(description="{client guid}@{tenant}")
    client_secret: SecretRef
    username: str
    password: SecretRef
    scope: str = "api offline_access"


class AcumaticaLogin(_Model):
    """Legacy cookie session; each one holds an API-user licence seat until logout."""

    kind: Literal["acumatica_login"]
    username: str
    password: SecretRef
    tenant: str | None = None
    branch: str | None = None


class AcumaticaConnection(_Connection):
    system: Literal["acumatica"]
    instance_url: str = Field(description="https://<host>/<instance>")
    endpoint: str = "Default"
    version: str = Field(description="pinned endpoint version, e.g. 24.200.001")
    page_size: int = Field(default=500, ge=1)
    auth: Annotated[AcumaticaOAuth | AcumaticaLogin, Field(discriminator="kind")]


class ServiceTitanAuth(_Model):
    kind: Literal["servicetitan"]
    token_url: str = "https://auth.servicetitan.io/connect/token"
    client_id: str
    client_secret: SecretRef
    app_key: SecretRef = Field(description="sent as ST-App-Key on every call")


class ServiceTitanConnection(_Connection):
    system: Literal["servicetitan"]
    api_url: str = "https://api.servicetitan.io"
    tenant_id: str
    page_size: int = Field(default=500, ge=1, le=5000)
    auth: ServiceTitanAuth


Connection = Annotated[
    BusinessCentralConnection
    | ServiceNowConnection
    | NavConnection
    | FinanceOperationsConnection
    | AcumaticaConnection
    | ServiceTitanConnection,
    Field(discriminator="system"),
]

# Tags pydantic puts into error paths of discriminated unions; they say nothing to an operator.
_UNION_TAGS = {
    "business_central", "servicenow", "nav", "finance_operations", "acumatica", "servicetitan",
    "nav_basic", "entra_client_credentials", "acumatica_oauth", "acumatica_login",
}  # fmt: skip


class MappingRules(_Model):
    """Explicit overrides of how a source's references become the target's codes.

    Keys are what the source names (a ServiceNow supplier's sys_id or ERP vendor number, a
    cost center code, an account number); values are the target's codes. What is not listed
    here is resolved through what the connector learned while syncing the masters, then by
    the same code on both sides.
    """

    vendors: dict[str, str] = Field(default_factory=dict)
    cost_centers: dict[str, str] = Field(default_factory=dict)
    accounts: dict[str, str] = Field(default_factory=dict)


class FlowConfig(_Model):
    source: str = Field(description="name of a connection under 'connections'")
    target: str = Field(description="name of a connection under 'connections'")
    entities: list[str] = Field(min_length=1)
    poll_interval: timedelta = Field(default=timedelta(seconds=60))
    overlap: timedelta = Field(
        default=timedelta(seconds=5),
        description="window re-read before the cursor so late or tied records are not skipped",
    )
    cost_center_dimension: str = Field(
        default="COSTCENTER", description="the ERP dimension whose values are cost centers"
    )
    cost_center_shortcut: Literal[1, 2] = Field(
        default=2,
        description="BC: which global (shortcut) dimension of the company the cost center "
        "dimension is, as General Ledger Setup says; documents carry the cost center there",
    )
    mappings: MappingRules = Field(default_factory=MappingRules)
    park_timeout: timedelta = Field(
        default=timedelta(hours=1),
        description="how long a document waits for a master it names (vendor, account, cost "
        "center) to arrive before the target is asked anyway; the target's refusal then goes "
        "to the dead-letter topic with its reason",
    )


def _default_tiers() -> list[timedelta]:
    return [timedelta(seconds=30), timedelta(minutes=5), timedelta(hours=1)]


def tier_name(delay: timedelta) -> str:
    """A retry tier's name in topic names: 30s, 5m, 1h, 1500ms."""
    ms = int(delay.total_seconds() * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


class DeliveryConfig(_Model):
    """How sinks retry: in process first, then through delayed retry topics, then the DLQ."""

    retry_tiers: list[timedelta] = Field(
        default_factory=_default_tiers, description="delays of the retry topics, in order"
    )
    attempts: int = Field(default=5, ge=1, description="in-process tries of one write")
    max_backpressure_wait: timedelta = Field(
        default=timedelta(minutes=10),
        description="how long a sink waits out 429s in place before using the retry tiers",
    )
    batch_size: int = Field(default=200, ge=1)
    concurrency: int = Field(default=8, ge=1, description="keys written at once per target")
    max_replays: int = Field(
        default=3, ge=1, description="times a dead record may be redriven before it needs --force"
    )

    @model_validator(mode="after")
    def _tiers_increase(self) -> DeliveryConfig:
        names = [tier_name(t) for t in self.retry_tiers]
        if len(set(names)) != len(names):
            raise ValueError("delivery.retry_tiers: each tier needs a different delay")
        if any(t.total_seconds() <= 0 for t in self.retry_tiers):
            raise ValueError("delivery.retry_tiers: delays must be positive")
        return self

    @property
    def tier_names(self) -> list[str]:
        return [tier_name(t) for t in self.retry_tiers]


class AuditConfig(_Model):
    database: str = Field(
        default=".mlc/audit.db",
        description="SQLite file path, or a postgresql:// URL for PostgreSQL",
    )


class WebhookConfig(_Model):
    """The endpoint sources notify; polling always runs beside it."""

    listen_host: str = "0.0.0.0"  # a receiver must be reachable by the source
    listen_port: int = Field(default=8088, ge=1, le=65535)
    public_url: str | None = Field(
        default=None, description="base URL the source reaches the receiver at (https)"
    )
    renew_before: timedelta = Field(
        default=timedelta(hours=24), description="renew a subscription this long before expiry"
    )
    check_interval: timedelta = Field(
        default=timedelta(minutes=5), description="how often subscriptions are checked"
    )


class Settings(_Model):
    kafka: KafkaConfig = KafkaConfig()
    secrets: SecretsConfig = SecretsConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    audit: AuditConfig = AuditConfig()
    webhooks: WebhookConfig = WebhookConfig()
    connections: dict[str, Connection] = Field(default_factory=dict)
    flows: dict[str, FlowConfig] = Field(default_factory=dict)

    def webhook_connections(self) -> list[str]:
        """Connections whose changes also arrive at the receiver: BC notifications, SN pushes."""
        return [
            n for n, c in self.connections.items()
            if getattr(c, "webhooks", False) is True or getattr(c, "push", None) is not None
        ]  # fmt: skip

    @model_validator(mode="after")
    def _webhooks_need_an_address(self) -> Settings:
        # Only Business Central subscriptions need an address BC can call back.
        wanted = [n for n, c in self.connections.items() if getattr(c, "webhooks", False) is True]
        if wanted and not self.webhooks.public_url:
            users = ", ".join(wanted)
            raise ValueError(f"webhooks.public_url is required when connections use them ({users})")
        return self

    @model_validator(mode="after")
    def _flows_name_connections(self) -> Settings:
        for name, flow in self.flows.items():
            for role in ("source", "target"):
                ref = getattr(flow, role)
                if ref not in self.connections:
                    known = ", ".join(sorted(self.connections)) or "none"
                    raise ValueError(
                        f"flows.{name}.{role}: no connection named {ref!r} (known: {known})"
                    )
        return self

    def with_environment(self) -> Settings:
        """Apply the environment overrides that platform tooling expects to set."""
        updates: dict[str, Any] = {}
        if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            updates["bootstrap_servers"] = bootstrap
        if registry := os.environ.get("SCHEMA_REGISTRY_URL"):
            updates["schema_registry_url"] = registry
        if not updates:
            return self
        return self.model_copy(update={"kafka": self.kafka.model_copy(update=updates)})


def _describe(error: Any) -> str:
    loc = [str(p) for p in error["loc"] if not str(p).startswith("function-")]
    # Discriminated unions put the tag into the path (a connection may be named like one).
    where = ".".join(
        p for i, p in enumerate(loc) if not (p in _UNION_TAGS and i and loc[i - 1] != "connections")
    )
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key (check its spelling and where it is nested)"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        ctx = error.get("ctx", {})
        key = ctx.get("discriminator", "").strip("'")
        where = f"{where}.{key}"
        if error["type"] == "union_tag_not_found":
            message = "required key is missing (it says which system this connection is)"
        else:
            message = (
                f"unknown value {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
            )
    value = error.get("input")
    shown = "" if error["type"] == "missing" or isinstance(value, dict) else f" (got {value!r})"
    return f"{where or '<top level>'}: {message}{shown}"


def parse_settings(data: Any, *, origin: str = "<config>") -> Settings:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of kafka/connections/flows")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(e) for e in exc.errors(include_url=False)]
        # Secrets never appear in these messages: they are references, not values.
        raise ConfigError(f"{origin} is not valid:\n  " + "\n  ".join(lines)) from None


def load_settings(path: Path | str) -> Settings:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_settings(data, origin=str(path)).with_environment()
