"""How a simulator registers itself: its name, options, app factory and command line options.

Each system package declares one ``Simulator`` (``<package>.registration.SIMULATOR``) and
``registry.SIMULATORS`` lists them, so whatever launches simulators (``ml-connector simulate``)
learns the systems, their options and their webhook support from there instead of naming them.
This module is apart from ``registry`` because the packages import it and the registry imports
the packages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from starlette.applications import Starlette

OptionsT = TypeVar("OptionsT")

# Command line options that most simulators map the same way (option name -> options field).
SEED_AND_COUNTS: Mapping[str, str] = {
    "seed": "seed",
    "vendors": "vendor_count",
    "purchase_orders": "purchase_order_count",
}
OAUTH_CLIENT: Mapping[str, str] = {"client_id": "client_id", "client_secret": "client_secret"}

# (webhook URL, HMAC key or None) -> options values that subscribe that URL to the webhooks.
Subscribe = Callable[[str, str | None], Mapping[str, object]]


@dataclass(frozen=True)
class Simulator(Generic[OptionsT]):
    name: str  # the system, as the command line names it
    options: type[OptionsT]  # the options dataclass; unset fields keep its defaults
    create_app: Callable[[OptionsT], Starlette]
    # Command line option (its parameter name: ``purchase_orders`` for ``--purchase-orders``)
    # -> options field. Options missing here do not apply to this simulator.
    cli_options: Mapping[str, str]
    # How ``--webhook-url`` / ``--hmac-key`` become options; None: the simulator takes neither.
    subscribe: Subscribe | None = None

    @property
    def accepts_webhooks(self) -> bool:
        return self.subscribe is not None
