"""A ServiceTitan simulator beside the sandbox, and the connection and flows that reach it.

``Sandbox`` starts Business Central and ServiceNow; a sandbox that plays ServiceTitan starts
its simulator first (the config needs its URL) and hands the connection, the flows and the
secrets in through ``extra_connections``, ``extra_flows`` and ``extra_secrets``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ST_SECRETS = {"st-client-secret": "cs1.mlc-secret", "st-app-key": "ak1.mlc-app-key"}
CONNECTION = "st"


@dataclass
class ServiceTitanSim:
    app: Any  # the simulator app; its store is .state.sim
    url: str
    stop: Callable[[], None]
    options: Any

    def connection(self, **extra: Any) -> dict[str, Any]:
        """The connection a user's config would declare for this tenant."""
        return {
            "system": "servicetitan",
            "api_url": self.url,
            "tenant_id": str(self.options.tenant_id),
            "auth": {
                "kind": "servicetitan",
                "token_url": f"{self.url}/connect/token",
                "client_id": self.options.client_id,
                "client_secret": {"secret": "st-client-secret"},
                "app_key": {"secret": "st-app-key"},
            },
            **extra,
        }

    def sandbox_options(self, flows: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
        """``Sandbox.start`` options adding this simulator's connection and ``flows``."""
        return {
            "extra_connections": {CONNECTION: self.connection()},
            "extra_flows": flows,
            "extra_secrets": dict(ST_SECRETS),
            **extra,
        }


def start_servicetitan(**options: Any) -> ServiceTitanSim:
    """The simulator, served on a free loopback port, with the sandbox's credentials."""
    from simulators import servicetitan
    from simulators.server import serve_in_thread

    st_options = servicetitan.ServiceTitanOptions(
        client_secret=ST_SECRETS["st-client-secret"], app_key=ST_SECRETS["st-app-key"], **options
    )
    app = servicetitan.create_app(st_options)
    url, stop = serve_in_thread(app)
    return ServiceTitanSim(app, url, stop, st_options)
