"""Both directions with Business Central on Entra ID client credentials and ServiceNow on basic
auth, because this instance has the OAuth client credentials grant switched off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.kafka


def test_servicenow_without_the_oauth_grant_falls_back_to_basic_auth(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(
        vendors=30, poll_interval=1.0, sn_invoices=9, sn_purchase_orders=0,
        sn_options={"client_credentials_enabled": False},
        extra_flows={"servicenow-bc": {"source": "sn", "target": "bc",
                                       "entities": ["purchase_invoice"]}},
    )  # fmt: skip
    approved = p.sn_approved("sn_shop_invoice")
    assert approved

    p.wait(
        "vendors in ServiceNow and approved invoices posted in BC",
        lambda: len(p.sn_vendor_counts()) >= 30 and approved <= set(p.posted_invoices()),
    )

    sn_calls = p.box.sn.state.sim.requests.entries()
    token = [e for e in sn_calls if e.route == "/oauth_token.do"]
    api = [e for e in sn_calls if (e.route or "").startswith("/api/now/")]
    assert token and all(e.status >= 400 for e in token)  # the grant is refused ...
    assert api and all(e.status < 400 for e in api)  # ... and every API call still succeeds
    bc_calls = p.box.bc.state.sim.requests.entries()
    bc_token = [e for e in bc_calls if (e.route or "").endswith("/oauth2/v2.0/token")]
    assert bc_token and all(e.status == 200 for e in bc_token)  # Entra ID tokens for BC
