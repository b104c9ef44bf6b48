"""Business Central online API v2.0 simulator; ``create_app(BusinessCentralOptions(...))``.

``app`` assembles the pieces: ``options``, ``store`` (with ``entities`` and ``values``),
``seed``, the handlers in ``api``, ``actions``, ``batch``, ``metadata`` and ``webhooks``, the
conventions they share in ``http``, and the ``/_sim/`` routes in ``inspection``.
"""

from simulators.business_central.app import create_app
from simulators.business_central.http import bc_error, fault_error, limit_error
from simulators.business_central.options import BusinessCentralOptions
from simulators.entra import entra_error

__all__ = [
    "BusinessCentralOptions",
    "bc_error",
    "create_app",
    "entra_error",
    "fault_error",
    "limit_error",
]
