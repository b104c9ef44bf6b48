"""The ServiceNow simulator's entry in ``simulators.registry``."""

from __future__ import annotations

from simulators.servicenow.app import create_app
from simulators.servicenow.options import ServiceNowOptions
from simulators.simulator import OAUTH_CLIENT, SEED_AND_COUNTS, Simulator

SIMULATOR = Simulator(
    name="servicenow",
    options=ServiceNowOptions,
    create_app=create_app,
    cli_options={
        **SEED_AND_COUNTS,
        **OAUTH_CLIENT,
        "vendors": "supplier_count",
        "invoices": "invoice_count",
        "user": "username",
        "password": "password",
    },
)
