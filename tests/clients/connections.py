"""Connection models pointing at simulators, as a user's config file would declare them."""

from __future__ import annotations

from typing import Any

from ml_connector.connections.acumatica import AcumaticaConnection
from ml_connector.connections.business_central import BusinessCentralConnection
from ml_connector.connections.finance_operations import FinanceOperationsConnection
from ml_connector.connections.nav import NavConnection
from ml_connector.connections.servicenow import ServiceNowConnection
from ml_connector.connections.servicetitan import ServiceTitanConnection


def bc_connection(url: str, secret: str = "secret", **extra: Any) -> BusinessCentralConnection:
    return BusinessCentralConnection.model_validate(
        {
            "system": "business_central", "base_url": url, "tenant": "sim-tenant",
            "environment": "production",
            "auth": {"kind": "entra_client_credentials",
                     "token_url": f"{url}/sim-tenant/oauth2/v2.0/token",
                     "client_id": "mlc-client", "client_secret": {"secret": secret}},
            **{"page_size": 50, **extra},
        }
    )  # fmt: skip


def sn_connection(
    url: str,
    *,
    oauth: bool = True,
    grant: str = "client_credentials",
    password: str = "password",
    **extra: Any,
) -> ServiceNowConnection:
    auth: dict[str, Any] = {"kind": "servicenow", "username": "mlc.integration",
                            "password": {"secret": password}, "grant": grant}  # fmt: skip
    if oauth:
        auth |= {"client_id": "mlc-client", "client_secret": {"secret": "secret"}}
    return ServiceNowConnection.model_validate(
        {"system": "servicenow", "instance_url": url, "auth": auth, **extra}
    )


def fo_connection(url: str, **extra: Any) -> FinanceOperationsConnection:
    return FinanceOperationsConnection.model_validate(
        {
            "system": "finance_operations", "base_url": url,
            "auth": {"kind": "entra_client_credentials",
                     "token_url": f"{url}/sim-tenant/oauth2/v2.0/token",
                     "client_id": "mlc-client", "client_secret": {"secret": "secret"}},
            **extra,
        }
    )  # fmt: skip


ACUMATICA_CLIENT = "6F0B7A52-3F1E-4C55-9D0A-5B2C1C7E9A10@MLC"


def acumatica_connection(
    url: str, *, cookie: bool = False, version: str = "24.200.001", **extra: Any
) -> AcumaticaConnection:
    auth: dict[str, Any] = (
        {"kind": "acumatica_login", "username": "mlc.integration",
         "password": {"secret": "password"}}
        if cookie
        else {"kind": "acumatica_oauth", "client_id": ACUMATICA_CLIENT,
              "client_secret": {"secret": "secret"}, "username": "mlc.integration",
              "password": {"secret": "password"}}
    )  # fmt: skip
    return AcumaticaConnection.model_validate(
        {"system": "acumatica", "instance_url": url, "version": version, "auth": auth, **extra}
    )


def nav_connection(url: str, *, key: str = "nav-key", **extra: Any) -> NavConnection:
    return NavConnection.model_validate(
        {
            "system": "nav", "base_url": url, "server_instance": "BC",
            "auth": {"kind": "nav_basic", "username": "MLC", "access_key": {"secret": key}},
            **{"page_size": 50, **extra},
        }
    )  # fmt: skip


def st_connection(url: str, *, app_key: str = "st-app-key", **extra: Any) -> ServiceTitanConnection:
    return ServiceTitanConnection.model_validate(
        {
            "system": "servicetitan", "api_url": url, "tenant_id": "1234567",
            "auth": {"kind": "servicetitan", "token_url": f"{url}/connect/token",
                     "client_id": "cid.mlc-sim", "client_secret": {"secret": "st-secret"},
                     "app_key": {"secret": app_key}},
            **extra,
        }
    )  # fmt: skip
