"""Acumatica: OAuth or the legacy cookie login."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ml_connector.connections.base import ConnectionBase, Model, SecretRef


class AcumaticaOAuth(Model):
    kind: Literal["acumatica_oauth"]
    client_id: str = Field(description="{client guid}@{tenant}")
    client_secret: SecretRef
    username: str
    password: SecretRef
    scope: str = "api offline_access"


class AcumaticaLogin(Model):
    """Legacy cookie session; each one holds an API-user licence seat until logout."""

    kind: Literal["acumatica_login"]
    username: str
    password: SecretRef
    tenant: str | None = None
    branch: str | None = None


class AcumaticaPush(Model):
    """Push notifications (an optional accelerator beside polling): Acumatica posts each
    change of a watched query with one custom header carrying a shared secret."""

    header: str = Field(default="X-MLC-Push-Secret", description="header carrying the secret")
    secret: SecretRef
    queries: dict[str, str] = Field(
        default_factory=dict,
        description="push notification (query) name -> the Default endpoint entity it watches; "
        "a name not listed is taken as the entity's own (Bill, Vendor ...)",
    )


class AcumaticaConnection(ConnectionBase):
    system: Literal["acumatica"]
    instance_url: str = Field(description="https://<host>/<instance>")
    endpoint: str = "Default"
    version: str = Field(description="pinned endpoint version, e.g. 24.200.001")
    page_size: int = Field(default=500, ge=1)
    origin_field: str = Field(
        default="VendorRef",
        description="purchase order field holding the number of the ServiceNow request it "
        "was created from: what the look-up before each create filters on",
    )
    auth: Annotated[AcumaticaOAuth | AcumaticaLogin, Field(discriminator="kind")]
    push: AcumaticaPush | None = Field(
        default=None, description="accept push notifications at the webhook receiver"
    )

    @property
    def notifies(self) -> bool:
        return self.push is not None

    @property
    def url(self) -> str:
        return self.instance_url
