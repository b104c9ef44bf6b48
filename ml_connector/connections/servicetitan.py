"""ServiceTitan."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ml_connector.connections.base import ConnectionBase, Model, RateLimit, SecretRef


class ServiceTitanAuth(Model):
    kind: Literal["servicetitan"]
    token_url: str = "https://auth.servicetitan.io/connect/token"
    client_id: str
    client_secret: SecretRef
    app_key: SecretRef = Field(description="sent as ST-App-Key on every call")


class ServiceTitanWebhooks(Model):
    """Webhooks V2 as configured in the app's settings (events, callback URL, HMAC key): the
    receiver checks each delivery's signature before anything else. Polling runs beside them,
    so a delivery that never came still arrives."""

    hmac_key: SecretRef = Field(description="the app's webhook HMAC key (32 to 64 characters)")
    signature_header: str = Field(
        default="x-servicetitan-signature", description="header carrying the signature"
    )
    signature_encoding: Literal["base64", "hex"] = Field(
        default="base64", description="how the HMAC-SHA256 digest is written (UNCONFIRMED)"
    )


class ServiceTitanConnection(ConnectionBase):
    default_rate_limit: ClassVar[RateLimit] = RateLimit(requests=60, per_seconds=1, concurrency=10)

    system: Literal["servicetitan"]
    api_url: str = "https://api.servicetitan.io"
    tenant_id: str
    page_size: int = Field(default=500, ge=1, le=5000)
    auth: ServiceTitanAuth
    webhooks: ServiceTitanWebhooks | None = Field(
        default=None, description="accept invoice and payment webhooks at the receiver"
    )

    @property
    def url(self) -> str:
        return self.api_url

    @property
    def notifies(self) -> bool:
        return self.webhooks is not None
