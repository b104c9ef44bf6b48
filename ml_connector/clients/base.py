"""What every system client shares: an ApiClient built from a connection's common settings."""

from __future__ import annotations

from typing import Protocol

import httpx

from ml_connector.api.auth import EntraClientCredentials
from ml_connector.api.budget import Rate, RateBudget
from ml_connector.api.client import ApiClient, RetryPolicy
from ml_connector.connections.base import EntraClientCredentials as EntraSettings
from ml_connector.connections.base import RateLimit
from ml_connector.secrets import SecretStore


class ConnectionSettings(Protocol):
    @property
    def verify(self) -> bool | str: ...

    @property
    def timeout_seconds(self) -> float: ...

    @property
    def rate(self) -> RateLimit: ...


def budget_for(connection: ConnectionSettings) -> RateBudget:
    r = connection.rate
    return RateBudget(Rate(r.requests, r.per_seconds, r.concurrency))


def api_client(
    connection: ConnectionSettings,
    base_url: str,
    auth: httpx.Auth | None,
    *,
    retry: RetryPolicy | None = None,
    budget: RateBudget | None = None,
    headers: dict[str, str] | None = None,
) -> ApiClient:
    """An ApiClient with the connection's TLS, timeout and rate budget.

    Pass ``budget`` to share one budget between several clients of the same connection (a
    producer and a sink in one process): the vendor counts requests per credential, not per
    client object.
    """
    return ApiClient(
        base_url,
        auth,
        retry=retry,
        timeout=connection.timeout_seconds,
        verify=connection.verify,
        headers=headers,
        budget=budget or budget_for(connection),
    )


def entra_auth(auth: EntraSettings, secrets: SecretStore) -> EntraClientCredentials:
    """The Entra client-credentials authenticator (BC, NAV with Entra, F&O)."""
    return EntraClientCredentials(
        auth.token_url, auth.client_id, secrets.get(auth.client_secret), auth.scope
    )
