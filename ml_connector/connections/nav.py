"""Dynamics NAV / Business Central on-premises."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ml_connector.connections.base import ConnectionBase, EntraClientCredentials, Model, SecretRef


class NavBasicAuth(Model):
    """NAV / BC on-premises: a user name and its web service access key as the password."""

    kind: Literal["nav_basic"]
    username: str
    access_key: SecretRef


class NavConnection(ConnectionBase):
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

    @property
    def url(self) -> str:
        return self.base_url
