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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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

    @model_validator(mode="after")
    def _one_way_in(self) -> ServiceNowAuth:
        oauth = self.client_id is not None and self.client_secret is not None
        basic = self.username is not None and self.password is not None
        if not (oauth or basic):
            raise ValueError("give client_id + client_secret, or username + password, or both")
        return self


class BusinessCentralConnection(_Model):
    system: Literal["business_central"]
    base_url: str = "https://api.businesscentral.dynamics.com"
    tenant: str | None = Field(default=None, description="optional tenant segment of the URL")
    environment: str
    company_id: str | None = Field(default=None, description="defaults to the first company")
    api_version: str = "v2.0"
    page_size: int = Field(default=1000, ge=1, le=20000)
    auth: EntraClientCredentials


class StagingTable(_Model):
    """Where one canonical entity lands in ServiceNow: an Import Set staging table."""

    staging: str
    target: str
    coalesce: str = Field(description="staging column the transform map coalesces on")


def _default_sn_tables() -> dict[str, StagingTable]:
    return {
        "vendor": StagingTable(
            staging="sn_fcms_intg_imp_supplier", target="core_company", coalesce="u_vendor_number"
        )
    }


class ServiceNowConnection(_Model):
    system: Literal["servicenow"]
    instance_url: str = Field(description="https://<instance>.service-now.com")
    auth: ServiceNowAuth
    tables: dict[str, StagingTable] = Field(default_factory=_default_sn_tables)


Connection = Annotated[
    BusinessCentralConnection | ServiceNowConnection, Field(discriminator="system")
]


class FlowConfig(_Model):
    source: str = Field(description="name of a connection under 'connections'")
    target: str = Field(description="name of a connection under 'connections'")
    entities: list[str] = Field(min_length=1)
    poll_interval: timedelta = Field(default=timedelta(seconds=60))
    overlap: timedelta = Field(
        default=timedelta(seconds=5),
        description="window re-read before the cursor so late or tied records are not skipped",
    )


class Settings(_Model):
    kafka: KafkaConfig = KafkaConfig()
    secrets: SecretsConfig = SecretsConfig()
    connections: dict[str, Connection] = Field(default_factory=dict)
    flows: dict[str, FlowConfig] = Field(default_factory=dict)

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
    where = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-after"))
    # Discriminated unions put the tag into the path; it says nothing to the operator.
    where = where.replace(".business_central", "").replace(".servicenow", "")
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
