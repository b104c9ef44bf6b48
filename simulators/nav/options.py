"""What the NAV / Business Central on-premises simulator is started with.

The BC online options plus the server instance and the legacy Basic credentials; kept apart
from ``app`` so the options can be read without importing the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.business_central.options import BusinessCentralOptions


@dataclass
class NavOptions(BusinessCentralOptions):
    server_instance: str = "BC"
    user: str = "MLC"
    access_key: str = "mlc-web-service-access-key"
    entra_enabled: bool = False  # the server also accepts Entra bearer tokens
    webhooks_enabled: bool = False
