"""How the connector's processes authenticate to Kafka and the Schema Registry: TLS, SASL
(PLAIN, SCRAM, OAUTHBEARER) and registry basic auth, from the configuration.

Two Kafka clients are in play, librdkafka (confluent-kafka) and aiokafka (under Faust), and
they name the same settings differently. The settings are written once here, as librdkafka
properties for the one and keyword arguments for the other, so a cluster that accepts one
client accepts both. Secrets are references resolved through the secret store at start-up;
the resolved values live only in the client configuration, never in a message or a log.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from ml_connector.connections.base import Model, SecretRef
from ml_connector.secrets import SecretError, SecretStore

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


class KafkaTls(Model):
    ca_file: Path | None = Field(
        default=None, description="PEM file of the CA that signed the brokers' certificates "
        "(default: the system's trust store)",
    )  # fmt: skip
    cert_file: Path | None = Field(default=None, description="client certificate (mutual TLS)")
    key_file: Path | None = Field(default=None, description="client private key (mutual TLS)")
    key_password: SecretRef | None = Field(default=None, description="if the key is encrypted")
    verify_hostname: bool = Field(
        default=True, description="check the broker's certificate names the host dialled"
    )

    @model_validator(mode="after")
    def _pair(self) -> KafkaTls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("kafka.security.tls: cert_file and key_file go together")
        return self


class KafkaSasl(Model):
    mechanism: Mechanism
    username: str | None = Field(default=None, description="PLAIN and SCRAM")
    password: SecretRef | None = Field(default=None, description="PLAIN and SCRAM")
    token_url: str | None = Field(default=None, description="OAUTHBEARER: the OIDC token URL")
    client_id: str | None = Field(default=None, description="OAUTHBEARER")
    client_secret: SecretRef | None = Field(default=None, description="OAUTHBEARER")
    scope: str | None = Field(default=None, description="OAUTHBEARER")

    @model_validator(mode="after")
    def _complete(self) -> KafkaSasl:
        if self.mechanism == "OAUTHBEARER":
            needed = {"token_url": self.token_url, "client_id": self.client_id,
                      "client_secret": self.client_secret}  # fmt: skip
        else:
            needed = {"username": self.username, "password": self.password}
        missing = [k for k, v in needed.items() if v is None]
        if missing:
            raise ValueError(
                f"kafka.security.sasl.{missing[0]} is required for mechanism {self.mechanism}"
            )
        return self


class RegistryAuth(Model):
    username: str | None = None
    password: SecretRef | None = None
    ca_file: Path | None = Field(default=None, description="CA of the registry's certificate")

    @model_validator(mode="after")
    def _pair(self) -> RegistryAuth:
        if (self.username is None) != (self.password is None):
            raise ValueError("kafka.registry_auth: username and password go together")
        return self


class KafkaSecurity(Model):
    protocol: Protocol = Field(default="PLAINTEXT", description="security.protocol")
    tls: KafkaTls = Field(default_factory=KafkaTls)
    sasl: KafkaSasl | None = None
    properties: dict[str, str] = Field(
        default_factory=dict,
        description="other librdkafka client properties, passed through as given "
        "(the security settings above win over them)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSecurity:
        if self.protocol.startswith("SASL_") and self.sasl is None:
            raise ValueError(f"kafka.security.sasl is required with protocol {self.protocol}")
        if self.sasl is not None and not self.protocol.startswith("SASL_"):
            raise ValueError("kafka.security.sasl needs protocol SASL_SSL or SASL_PLAINTEXT")
        return self


def _reveal(secrets: SecretStore, ref: SecretRef | None) -> str | None:
    return None if ref is None else secrets.get(ref).get_secret_value()


def librdkafka(security: KafkaSecurity, secrets: SecretStore) -> dict[str, str]:
    """The librdkafka properties (confluent-kafka producers, consumers and admin clients)."""
    props = dict(security.properties)
    props["security.protocol"] = security.protocol
    tls = security.tls
    if security.protocol in ("SSL", "SASL_SSL"):
        if tls.ca_file is not None:
            props["ssl.ca.location"] = str(tls.ca_file)
        if tls.cert_file is not None and tls.key_file is not None:
            props["ssl.certificate.location"] = str(tls.cert_file)
            props["ssl.key.location"] = str(tls.key_file)
        password = _reveal(secrets, tls.key_password)
        if password is not None:
            props["ssl.key.password"] = password
        props["ssl.endpoint.identification.algorithm"] = "https" if tls.verify_hostname else "none"
    sasl = security.sasl
    if sasl is not None:
        props["sasl.mechanism"] = sasl.mechanism
        if sasl.mechanism == "OAUTHBEARER":
            props["sasl.oauthbearer.method"] = "oidc"
            props["sasl.oauthbearer.token.endpoint.url"] = str(sasl.token_url)
            props["sasl.oauthbearer.client.id"] = str(sasl.client_id)
            props["sasl.oauthbearer.client.secret"] = str(_reveal(secrets, sasl.client_secret))
            if sasl.scope:
                props["sasl.oauthbearer.scope"] = sasl.scope
        else:
            props["sasl.username"] = str(sasl.username)
            props["sasl.password"] = str(_reveal(secrets, sasl.password))
    return props


def ssl_context(tls: KafkaTls, secrets: SecretStore) -> ssl.SSLContext:
    """The TLS context aiokafka needs for SSL and SASL_SSL (librdkafka builds its own)."""
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    context.check_hostname = tls.verify_hostname
    if tls.cert_file is not None and tls.key_file is not None:
        context.load_cert_chain(tls.cert_file, tls.key_file, _reveal(secrets, tls.key_password))
    return context


def registry_conf(auth: RegistryAuth, secrets: SecretStore) -> dict[str, Any]:
    """The Schema Registry client's settings beside its url (confluent-kafka's client)."""
    conf: dict[str, Any] = {}
    if auth.username is not None:
        conf["basic.auth.user.info"] = f"{auth.username}:{_reveal(secrets, auth.password)}"
    if auth.ca_file is not None:
        conf["ssl.ca.location"] = str(auth.ca_file)
    return conf


class AccessError(RuntimeError):
    """The configured Kafka or registry credentials cannot be resolved; names the key."""


@dataclass(frozen=True)
class Access:
    """What this process's Kafka and registry clients are configured with, secrets resolved."""

    security: KafkaSecurity
    properties: Mapping[str, str]  # librdkafka
    registry: Mapping[str, Any]  # Schema Registry client settings beside its url
    sasl_password: SecretStr | None = None  # aiokafka takes it apart from the properties
    context: ssl.SSLContext | None = None


_PLAIN = Access(KafkaSecurity(), {}, {})


@dataclass
class _Configured:
    security: KafkaSecurity
    registry_auth: RegistryAuth
    secrets: Callable[[], SecretStore]
    resolved: Access | None = None


_configured: _Configured | None = None
_lock = threading.Lock()


def configure(
    security: KafkaSecurity, registry_auth: RegistryAuth, secrets: Callable[[], SecretStore]
) -> None:
    """Set the credentials every Kafka and registry client of this process uses.

    One process talks to one cluster, so this is set once where the configuration is read.
    Secrets are resolved on first use, not here: ``secrets set`` must work before the store
    holds the Kafka password it is about to receive.
    """
    global _configured
    with _lock:
        _configured = _Configured(security, registry_auth, secrets)


def _resolve(c: _Configured) -> Access:
    if c.security.protocol == "PLAINTEXT" and c.registry_auth == RegistryAuth():
        return Access(c.security, dict(c.security.properties), {})
    try:
        store = c.secrets()
        properties = librdkafka(c.security, store)
        registry = registry_conf(c.registry_auth, store)
        context = None
        if c.security.protocol in ("SSL", "SASL_SSL"):
            context = ssl_context(c.security.tls, store)
    except (SecretError, OSError, ssl.SSLError) as exc:
        raise AccessError(f"kafka.security / kafka.registry_auth: {exc}") from None
    sasl = c.security.sasl
    password = None
    if sasl is not None and sasl.password is not None:
        password = SecretStr(properties["sasl.password"])
    return Access(c.security, properties, registry, password, context)


def current() -> Access:
    """The resolved access of this process (plain, unauthenticated, if never configured)."""
    with _lock:
        c = _configured
        if c is None:
            return _PLAIN
        if c.resolved is None:
            c.resolved = _resolve(c)
        return c.resolved


def reset() -> None:
    """Back to plain, unauthenticated clients (for a process that reads another config)."""
    global _configured
    with _lock:
        _configured = None
