"""The ServiceTitan simulator's entry in ``simulators.registry``; the one that takes a webhook
subscription from the command line."""

from __future__ import annotations

from collections.abc import Mapping

from simulators.servicetitan.app import create_app
from simulators.servicetitan.options import ServiceTitanOptions, WebhookSubscription
from simulators.simulator import OAUTH_CLIENT, Simulator


def subscribe(url: str, hmac_key: str | None) -> Mapping[str, object]:
    """One subscription of ``url`` to the default events, signed when a key is given."""
    return {"webhook_subscriptions": (WebhookSubscription(url, hmac_key=hmac_key),)}


SIMULATOR = Simulator(
    name="servicetitan",
    options=ServiceTitanOptions,
    create_app=create_app,
    cli_options={
        "seed": "seed",
        **OAUTH_CLIENT,
        "customers": "customer_count",
        "invoices": "invoice_count",
        "purchase_orders": "purchase_order_count",
        "app_key": "app_key",
    },
    subscribe=subscribe,
)
