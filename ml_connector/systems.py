"""The systems the connector speaks to, registered once each in the core layer.

A registration names the system, its connection model (with its default rate limit) and its
client. The configuration's union of connections is built from these; the producers, sinks and
simulators register their own parts under the same names in their own layers, and the
application shell puts them together. Adding a system adds one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ml_connector.api.budget import RateBudget
from ml_connector.api.client import RetryPolicy
from ml_connector.clients import (
    acumatica,
    business_central,
    finance_operations,
    nav,
    servicenow,
    servicetitan,
)
from ml_connector.connections.acumatica import AcumaticaConnection
from ml_connector.connections.base import ConnectionBase, RateLimit
from ml_connector.connections.business_central import BusinessCentralConnection
from ml_connector.connections.finance_operations import FinanceOperationsConnection
from ml_connector.connections.nav import NavConnection
from ml_connector.connections.servicenow import ServiceNowConnection
from ml_connector.connections.servicetitan import ServiceTitanConnection
from ml_connector.ping import Needs, Step
from ml_connector.secrets import SecretStore


class ClientFactory(Protocol):
    def __call__(
        self,
        connection: Any,
        secrets: SecretStore,
        *,
        retry: RetryPolicy | None = ...,
        budget: RateBudget | None = ...,
    ) -> Any: ...


Probe = Callable[[Any, Needs], list[Step]]


@dataclass(frozen=True)
class System:
    name: str
    title: str
    connection: type[ConnectionBase]
    client: ClientFactory
    probe: Probe  # the system's own ping steps (see ml_connector.ping)

    @property
    def rate_limit(self) -> RateLimit:
        return self.connection.default_rate_limit


SYSTEMS: tuple[System, ...] = (
    System("business_central", "Dynamics 365 Business Central", BusinessCentralConnection,
           business_central.BusinessCentralClient, business_central.probe),
    System("nav", "Dynamics NAV / Business Central on-premises", NavConnection,
           nav.NavClient, nav.probe),
    System("finance_operations", "Dynamics 365 Finance & Operations",
           FinanceOperationsConnection, finance_operations.FinanceOperationsClient,
           finance_operations.probe),
    System("acumatica", "Acumatica", AcumaticaConnection, acumatica.AcumaticaClient,
           acumatica.probe),
    System("servicenow", "ServiceNow Source-to-Pay", ServiceNowConnection,
           servicenow.ServiceNowClient, servicenow.probe),
    System("servicetitan", "ServiceTitan", ServiceTitanConnection,
           servicetitan.ServiceTitanClient, servicetitan.probe),
)  # fmt: skip


def system(name: str) -> System:
    for s in SYSTEMS:
        if s.name == name:
            return s
    raise KeyError(f"unknown system {name!r}; known: {', '.join(s.name for s in SYSTEMS)}")


def _check(systems: tuple[System, ...]) -> None:
    # The name is the connection's ``system`` tag; a registration that disagrees would make
    # the config accept one name and the layers look up another.
    for s in systems:
        tag = s.connection.model_fields["system"].annotation
        if getattr(tag, "__args__", None) != (s.name,):
            raise TypeError(f"{s.connection.__name__}.system must be Literal[{s.name!r}]")


_check(SYSTEMS)
