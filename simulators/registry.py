"""Every simulator there is: ``SIMULATORS``, the one list that names all systems.

Each entry comes from its own package's ``registration`` module; whatever launches simulators
(``ml-connector simulate``) takes the system names, options and webhook support from here.
"""

from __future__ import annotations

from typing import Any

from simulators.acumatica.registration import SIMULATOR as ACUMATICA
from simulators.business_central.registration import SIMULATOR as BUSINESS_CENTRAL
from simulators.finance_operations.registration import SIMULATOR as FINANCE_OPERATIONS
from simulators.nav.registration import SIMULATOR as NAV
from simulators.servicenow.registration import SIMULATOR as SERVICENOW
from simulators.servicetitan.registration import SIMULATOR as SERVICETITAN
from simulators.simulator import Simulator

__all__ = ["SIMULATORS", "Simulator"]

SIMULATORS: tuple[Simulator[Any], ...] = (
    BUSINESS_CENTRAL,
    NAV,
    SERVICENOW,
    FINANCE_OPERATIONS,
    ACUMATICA,
    SERVICETITAN,
)
