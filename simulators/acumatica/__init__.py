"""Acumatica contract-based REST API simulator; ``create_app(AcumaticaOptions(...))``.

``app`` serves the ``Default`` endpoint over ``store`` (entities from ``entities``, rows from
``seed``); ``auth`` is the cookie and OAuth sign-in, ``limits`` the licence limits, ``push``
the push notifications, ``inspection`` the ``/_sim/`` routes.
"""

from simulators.acumatica.app import create_app
from simulators.acumatica.limits import LicenceLimits
from simulators.acumatica.options import AcumaticaOptions, PushNotification

__all__ = ["AcumaticaOptions", "LicenceLimits", "PushNotification", "create_app"]
