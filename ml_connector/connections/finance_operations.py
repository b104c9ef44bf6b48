"""Dynamics 365 Finance & Operations."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ml_connector.connections.base import ConnectionBase, EntraClientCredentials, RateLimit


class FinanceOperationsConnection(ConnectionBase):
    default_rate_limit: ClassVar[RateLimit] = RateLimit(
        requests=6000, per_seconds=300, concurrency=52
    )

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

    @property
    def url(self) -> str:
        return self.base_url
