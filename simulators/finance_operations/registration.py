"""The Dynamics 365 F&O simulator's entry in ``simulators.registry``."""

from __future__ import annotations

from simulators.finance_operations.app import create_app
from simulators.finance_operations.options import FinanceOperationsOptions
from simulators.simulator import OAUTH_CLIENT, SEED_AND_COUNTS, Simulator

SIMULATOR = Simulator(
    name="finance_operations",
    options=FinanceOperationsOptions,
    create_app=create_app,
    cli_options={**SEED_AND_COUNTS, **OAUTH_CLIENT, "invoices": "invoice_count"},
)
