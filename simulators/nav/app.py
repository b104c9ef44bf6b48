"""Dynamics NAV / Business Central on-premises simulator.

The same API v2.0 as BC online, under ``/{serverInstance}/api/v2.0/...`` (default instance
"BC"; port 7048 on a real server), plus the legacy OData V4 web services of published pages
(``pages``) under ``/{serverInstance}/ODataV4/``. Both read and write the one
``BusinessCentralStore``, so nothing here re-implements the data or the v2.0 handlers.

Auth is Basic with a user name and its web service access key as password (the legacy way);
with ``entra_enabled`` Entra bearer tokens work as on BC online, from the same token endpoint.
Webhooks behave as BC's when ``webhooks_enabled`` (off by default: many on-premises versions
have none), otherwise ``subscriptions`` answers 404.
"""

from __future__ import annotations

import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from simulators.business_central.app import BusinessCentralApi, assemble, seeded_store
from simulators.business_central.http import bc_error
from simulators.business_central.store import BusinessCentralStore
from simulators.credentials import basic_credentials, bearer_token
from simulators.nav.options import NavOptions
from simulators.nav.pages import PageHandlers


class NavApi(BusinessCentralApi):
    def __init__(self, store: BusinessCentralStore, options: NavOptions) -> None:
        super().__init__(store)
        self.nav = options
        self.pages = PageHandlers(store)

    def authenticate(self, request: Request) -> Response | None:
        basic = basic_credentials(request)
        if basic is not None:
            user_ok = basic[0].lower() == self.nav.user.lower()
            if user_ok and secrets.compare_digest(basic[1], self.nav.access_key):
                return None
        elif self.nav.entra_enabled and bearer_token(request) is not None:
            return super().authenticate(request)
        return bc_error(
            401,
            "Authentication_InvalidCredentials",
            "The server has rejected the client credentials.",
            {"WWW-Authenticate": 'Basic realm=""'},
        )

    def routes(self) -> list[BaseRoute]:
        instance = f"/{self.nav.server_instance}"
        legacy = f"{instance}/ODataV4"
        company = legacy + "/Company('{company}')/{resource}"
        routes: list[BaseRoute] = [
            Route(f"{legacy}/$metadata", self.api(self.pages.metadata), methods=["GET"]),
            Route(f"{legacy}/Company", self.api(self.pages.companies), methods=["GET"]),
            Route(
                company,
                self.api(self.pages.collection),
                methods=["GET", "POST", "PATCH", "DELETE"],
            ),
            *self.api_routes(f"{instance}/api/v2.0"),
        ]
        if self.nav.entra_enabled:
            routes += self.authority
        return routes


def create_app(options: NavOptions | None = None) -> Starlette:
    """The simulator app; its store is ``app.state.sim`` (a BusinessCentralStore)."""
    options = options or NavOptions()
    store = seeded_store(options)
    return assemble(store, NavApi(store, options))
