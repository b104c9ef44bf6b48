"""Dynamics 365 Finance & Operations simulator; ``create_app(FinanceOperationsOptions(...))``.

``app`` serves the Entra token endpoint and the OData data API (``odata``) over ``store``
(entities from ``entities``, rows from ``seed``); ``events`` sends business events to the
endpoints the options name, ``inspection`` adapts the store to the ``/_sim/`` record routes.
"""

from simulators.finance_operations.app import create_app
from simulators.finance_operations.events import BusinessEventEndpoint
from simulators.finance_operations.options import FinanceOperationsOptions

__all__ = ["BusinessEventEndpoint", "FinanceOperationsOptions", "create_app"]
