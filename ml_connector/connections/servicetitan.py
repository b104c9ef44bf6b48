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


class ServiceTitanConnection(ConnectionBase):
    default_rate_limit: ClassVar[RateLimit] = RateLimit(requests=60, per_seconds=1, concurrency=10)

    system: Literal["servicetitan"]
    api_url: str = "https://api.servicetitan.io"
    tenant_id: str
    page_size: int = Field(default=500, ge=1, le=5000)
    auth: ServiceTitanAuth

    @property
    def url(self) -> str:
        return self.api_url
