"""Dynamics 365 Business Central online."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ml_connector.connections.base import ConnectionBase, EntraClientCredentials, RateLimit


class BusinessCentralConnection(ConnectionBase):
    default_rate_limit: ClassVar[RateLimit] = RateLimit(
        requests=6000, per_seconds=300, concurrency=5
    )

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

    @property
    def notifies(self) -> bool:
        return self.webhooks

    @property
    def needs_callback_url(self) -> bool:
        # BC calls the receiver back to validate each subscription.
        return self.webhooks

    @property
    def url(self) -> str:
        return self.base_url
