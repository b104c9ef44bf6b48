"""The Acumatica simulator's entry in ``simulators.registry``."""

from __future__ import annotations

from simulators.acumatica.app import create_app
from simulators.acumatica.options import AcumaticaOptions
from simulators.simulator import OAUTH_CLIENT, SEED_AND_COUNTS, Simulator

SIMULATOR = Simulator(
    name="acumatica",
    options=AcumaticaOptions,
    create_app=create_app,
    cli_options={
        **SEED_AND_COUNTS,
        **OAUTH_CLIENT,
        "invoices": "bill_count",
        "user": "username",
        "password": "password",
    },
)
