"""The NAV simulator's entry in ``simulators.registry``: Business Central's options plus the
legacy web service user and access key."""

from __future__ import annotations

from simulators.business_central.registration import SIMULATOR as BUSINESS_CENTRAL
from simulators.nav.app import create_app
from simulators.nav.options import NavOptions
from simulators.simulator import Simulator

SIMULATOR = Simulator(
    name="nav",
    options=NavOptions,
    create_app=create_app,
    cli_options={**BUSINESS_CENTRAL.cli_options, "user": "user", "access_key": "access_key"},
)
