"""The Business Central simulator's entry in ``simulators.registry``."""

from __future__ import annotations

from simulators.business_central.app import create_app
from simulators.business_central.options import BusinessCentralOptions
from simulators.simulator import OAUTH_CLIENT, SEED_AND_COUNTS, Simulator

SIMULATOR = Simulator(
    name="business_central",
    options=BusinessCentralOptions,
    create_app=create_app,
    cli_options={
        **SEED_AND_COUNTS,
        **OAUTH_CLIENT,
        "customers": "customer_count",
        "items": "item_count",
        "invoices": "purchase_invoice_count",
    },
)
