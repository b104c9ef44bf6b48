"""The one YAML file: ``kafka``, ``secrets``, ``connections`` and ``flows``.

Models are strict (unknown keys are errors) because a misspelt key silently ignored is the
most expensive kind of configuration bug: the flow runs, just not as the operator meant.
Connection models belong to their systems (``ml_connector.connections``); the union of them
here is built from the registrations in ``ml_connector.systems``.
"""

from __future__ import annotations

import os
import reprlib
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import yaml
from pydantic import Field, ValidationError, model_validator

from ml_connector.connections.base import ConnectionBase
from ml_connector.connections.base import Model as _Model
from ml_connector.field_overrides import EntityFields
from ml_connector.kafka_security import KafkaSecurity, RegistryAuth
from ml_connector.secrets import SecretsConfig
from ml_connector.systems import SYSTEMS
from ml_connector.topics import Topics

ZERO = timedelta(0)
PAYMENT_JOURNAL = "MLC-PAY"


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names every bad key."""


class ProducerTuning(_Model):
    """Batching of what the connector's processes produce. Delivery guarantees (acks=all,
    idempotence) are not tunable: they are what makes re-sends and restarts safe."""

    linger_ms: int = Field(
        default=10, ge=0, le=60_000,
        description="how long a record may wait to share a batch before it is sent",
    )  # fmt: skip
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        default="none",
        description="none lets every subscriber's client read the topics, whatever codecs it "
        "was built with",
    )

    def properties(self) -> dict[str, str | int]:
        """The Kafka producer properties these settings stand for."""
        return {"linger.ms": self.linger_ms, "compression.type": self.compression}


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
    manage_topics: bool = Field(
        default=True,
        description="create missing topics; false where a platform team creates them: "
        "then topics are only checked, and any missing or different one is named",
    )
    encoding: Literal["confluent", "single-object"] = Field(
        default="confluent",
        description="confluent: Confluent wire format through schema_registry_url (what stock "
        "deserializers read); single-object: Avro single-object encoding, no registry",
    )

    producer: ProducerTuning = Field(default_factory=ProducerTuning)
    security: KafkaSecurity = Field(
        default_factory=KafkaSecurity,
        description="TLS and SASL to the brokers, for confluent-kafka and Faust alike",
    )
    registry_auth: RegistryAuth = Field(
        default_factory=RegistryAuth, description="basic auth and CA of the Schema Registry"
    )

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)


if TYPE_CHECKING:
    Connection = ConnectionBase
else:
    # One member per registered system, told apart by its ``system`` key.
    Connection = Annotated[
        Union[tuple(s.connection for s in SYSTEMS)],  # noqa: UP007 - built at runtime
        Field(discriminator="system"),
    ]


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
    customers: dict[str, str] = Field(default_factory=dict)
    items: dict[str, str] = Field(default_factory=dict)

    def for_entity(self, entity: str) -> dict[str, str]:
        """The overrides of references to one canonical entity (none for an entity that has
        no key here, such as the invoice a payment applies to)."""
        keys = {"vendor": self.vendors, "cost_center": self.cost_centers,
                "gl_account": self.accounts, "customer": self.customers,
                "item": self.items}  # fmt: skip
        return keys.get(entity, {})


class FlowConfig(_Model):
    source: str = Field(description="name of a connection under 'connections'")
    target: str = Field(description="name of a connection under 'connections'")
    entities: list[str] = Field(min_length=1)
    poll_interval: timedelta = Field(default=timedelta(seconds=60), gt=ZERO)
    overlap: timedelta = Field(
        ge=ZERO,
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
    payment_journal: str = Field(
        default=PAYMENT_JOURNAL, max_length=10,
        description="BC: the customer payment journal batch payments are posted through, "
        "created if missing; the connector's own, since posting a batch posts every line in it",
    )  # fmt: skip
    mappings: MappingRules = Field(default_factory=MappingRules)
    returned: list[str] | None = Field(
        default=None,
        description="documents this flow carries back to the system they were entered in as "
        "their status only (posted, paid); default: the documents the other way's flow sends. "
        "[] sends every document whole, e.g. ERP purchase orders beside the requests that "
        "come back from ServiceNow as orders",
    )
    park_timeout: timedelta = Field(
        gt=ZERO,
        default=timedelta(hours=1),
        description="how long a document waits for a master it names (vendor, account, cost "
        "center) to arrive before the target is asked anyway; the target's refusal then goes "
        "to the dead-letter topic with its reason",
    )
    pricebook_types: dict[str, Literal["service", "material"]] | None = Field(
        default=None,
        description="ServiceTitan target: which pricebook list an item of each ERP item type "
        "goes to, e.g. {Service: service, Inventory: material}; replaces the default table, "
        "so a type left out is refused with this key named",
    )
    fields: dict[str, EntityFields] = Field(
        default_factory=dict,
        description="per entity, target column -> override: {from: <canonical field>}, "
        "{value: <constant>}, {lookup: {...}, otherwise: keep|reject|{value: ...}} (with or "
        "without from), {rename: <column>} or {drop: true}",
    )

    @model_validator(mode="after")
    def _returns_what_it_carries(self) -> FlowConfig:
        stray = [e for e in self.returned or [] if e not in self.entities]
        if stray:
            raise ValueError(f"returned: {', '.join(stray)} is not among this flow's entities")
        return self


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
        ge=ZERO,
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

    listen_host: str = Field(
        default="127.0.0.1",
        description="address to bind; loopback behind a reverse proxy (the usual way to give "
        "it https), 0.0.0.0 to take calls directly or inside a container; "
        "MLC_WEBHOOKS_LISTEN_HOST overrides it",
    )
    listen_port: int = Field(default=8088, ge=1, le=65535)
    public_url: str | None = Field(
        default=None, description="base URL the source reaches the receiver at (https)"
    )
    renew_before: timedelta = Field(
        gt=ZERO,
        default=timedelta(hours=24),
        description="renew a subscription this long before expiry",
    )
    check_interval: timedelta = Field(
        gt=ZERO,
        default=timedelta(minutes=5),
        description="how often subscriptions are checked",
    )


class MetricsConfig(_Model):
    """Each worker process serves /metrics, /healthz and /readyz."""

    listen_host: str = Field(
        default="127.0.0.1",
        description="address to bind (loopback); MLC_METRICS_LISTEN_HOST overrides it",
    )
    port: int | None = Field(
        default=9400, ge=1, le=65530,
        description="producers listen here, processors +1, sinks +2, audit +3, webhooks +4; "
        "null turns the listeners off",
    )  # fmt: skip


class ProducersConfig(_Model):
    """How producer instances share the poll tasks (one per flow and entity) through their
    consumer group over the tasks topic."""

    session_timeout: timedelta = Field(
        default=timedelta(seconds=10),
        ge=timedelta(seconds=1),
        le=timedelta(minutes=5),
        description="how long an instance may go unheard before its poll tasks move to the "
        "others (the broker bounds it by group.min/max.session.timeout.ms)",
    )


class Settings(_Model):
    kafka: KafkaConfig = KafkaConfig()
    secrets: SecretsConfig = SecretsConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    audit: AuditConfig = AuditConfig()
    webhooks: WebhookConfig = WebhookConfig()
    metrics: MetricsConfig = MetricsConfig()
    producers: ProducersConfig = ProducersConfig()
    connections: dict[str, Connection] = Field(default_factory=dict)
    flows: dict[str, FlowConfig] = Field(default_factory=dict)

    def webhook_connections(self) -> list[str]:
        """Connections whose changes also arrive at the receiver (notifications, pushes)."""
        return [n for n, c in self.connections.items() if c.notifies]

    @model_validator(mode="after")
    def _webhooks_need_an_address(self) -> Settings:
        wanted = [n for n, c in self.connections.items() if c.needs_callback_url]
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
        changed: dict[str, Any] = {}
        if updates:
            changed["kafka"] = self.kafka.model_copy(update=updates)
        # A container's listener must bind beyond loopback for Prometheus to reach it.
        if listen := os.environ.get("MLC_METRICS_LISTEN_HOST"):
            changed["metrics"] = self.metrics.model_copy(update={"listen_host": listen})
        # Likewise the receiver: the same config binds loopback on a host, all in a container.
        if listen := os.environ.get("MLC_WEBHOOKS_LISTEN_HOST"):
            changed["webhooks"] = self.webhooks.model_copy(update={"listen_host": listen})
        return self.model_copy(update=changed) if changed else self


def _path(loc: tuple[Any, ...], data: Any) -> str:
    """The keys of ``loc`` as the operator wrote them: discriminated unions (``system``,
    ``kind``) put their tag into the path, which says nothing to an operator. A tag is told
    apart by walking the input: it is a value of the mapping it appears in, not one of its keys
    (so a connection named like a system keeps its name)."""
    keys: list[str] = []
    node = data
    for p in loc:
        if isinstance(p, str) and p.startswith("function-"):
            continue
        if isinstance(node, dict) and p not in node and p in node.values():
            continue
        keys.append(str(p))
        node = node.get(p) if isinstance(node, dict) else _item(node, p)
    return ".".join(keys)


def _item(node: Any, index: Any) -> Any:
    if isinstance(node, list) and isinstance(index, int) and -len(node) <= index < len(node):
        return node[index]
    return None


# Keys whose values may be credentials: an error about them never repeats what was written.
_SECRET_WORDS = ("secret", "password", "key", "token", "credential")


def _secret_path(where: str) -> bool:
    return any(w in where.lower() for w in _SECRET_WORDS)


# Bounded: repr of a huge (or alias-expanded) value would take as long as the value is big.
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 2, 60, 60


def _clip(value: Any) -> str:
    return _SHOWN.repr(value)


def _count_nodes(data: Any, limit: int) -> None:
    """Raise ConfigError past ``limit`` nodes, counting aliases as often as they are used: a
    few lines of YAML anchors can stand for billions of nodes."""
    stack, seen = [data], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > limit:
            raise ConfigError(f"the configuration has more than {limit} values (YAML aliases?)")
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _describe(error: Any, data: Any) -> str:
    where = _path(tuple(error["loc"]), data)
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
    hidden = error["type"] == "missing" or isinstance(value, dict) or _secret_path(where)
    shown = "" if hidden else f" (got {_clip(value)})"
    if _secret_path(where) and isinstance(value, str):
        message += "; secrets are given as {secret: NAME} of the encrypted store, never inline"
    return f"{where or '<top level>'}: {message}{shown}"


def parse_settings(data: Any, *, origin: str = "<config>") -> Settings:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of kafka/connections/flows")
    try:
        _count_nodes(data, MAX_CONFIG_NODES)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(e, data) for e in exc.errors(include_url=False)]
        # Secrets never appear in these messages: they are references, not values.
        raise ConfigError(f"{origin} is not valid:\n  " + "\n  ".join(lines)) from None


MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_NODES = 100_000


def load_settings(path: Path | str) -> Settings:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes: not a config")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text file (not UTF-8)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_settings(data, origin=str(path)).with_environment()
