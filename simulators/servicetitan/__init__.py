"""ServiceTitan V2 API simulator; ``create_app(ServiceTitanOptions(...))``.

``app`` serves the token endpoint and the V2 resources over ``store`` (resources from
``entities``, rows from ``seed``); ``webhooks`` signs and sends webhook events,
``inspection`` adapts the store to the ``/_sim/`` routes.
"""

from simulators.servicetitan.app import create_app
from simulators.servicetitan.options import ServiceTitanOptions, WebhookSubscription

__all__ = ["ServiceTitanOptions", "WebhookSubscription", "create_app"]
