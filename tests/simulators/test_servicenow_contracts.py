"""ServiceNow contracts a third-party client relies on, over HTTPS on a real socket.

- OAuth ``/oauth_token.do`` with the client authenticated as HTTP Basic (RFC 6749 section 2.3.1,
  client_secret_basic), through an off-the-shelf RFC 6749 client (Authlib).
- Encoded queries: an operator the simulator does not implement fails loudly (Table API,
  "Encoded query strings"); BETWEEN, ANYTHING, EMPTYSTRING and NOT LIKE are honoured.
- Batch API (``POST /api/now/v1/batch``): base64 bodies, name/value headers, serviced and
  unserviced requests, the batch's credentials for each request.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from simulators.server import Served, serve_in_thread
from simulators.servicenow import ServiceNowOptions, create_app
from tests.simulators.support import SN_AUTH

CLIENT_ID, CLIENT_SECRET = "mlc-client", "mlc-secret"


@pytest.fixture
def instance() -> Iterator[Served]:
    served = serve_in_thread(create_app(ServiceNowOptions(company_count=12)), tls=True)
    yield served
    served.stop()


def _trust(served: Served) -> ssl.SSLContext:
    assert served.cert_path is not None
    return ssl.create_default_context(cafile=served.cert_path)


def _client(served: Served, **options: Any) -> httpx.Client:
    return httpx.Client(base_url=served.url, verify=_trust(served), **options)


def test_rfc6749_client_with_client_secret_basic_gets_a_token_and_reads(instance: Served) -> None:
    with OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        token_endpoint_auth_method="client_secret_basic",
        base_url=instance.url,
        verify=_trust(instance),
    ) as client:
        token = client.fetch_token(
            f"{instance.url}/oauth_token.do", grant_type="client_credentials"
        )
        sent = client.get("/_sim/requests").json()["requests"]
        rows = client.get("/api/now/table/core_company", params={"sysparm_limit": "1"})
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 1799
    assert [(e["method"], e["route"], e["status"]) for e in sent] == [
        ("POST", "/oauth_token.do", 200)
    ]
    assert rows.status_code == 200, rows.text
    assert len(rows.json()["result"]) == 1


def test_token_endpoint_refuses_a_wrong_basic_client_and_reads_the_form_first(
    instance: Served,
) -> None:
    form = {"grant_type": "client_credentials"}
    client_form = {**form, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    with _client(instance) as client:
        wrong = client.post("/oauth_token.do", data=form, auth=(CLIENT_ID, "nope"))
        # A Basic header of user credentials beside a client in the form is not client auth.
        user_basic = client.post("/oauth_token.do", data=client_form, auth=SN_AUTH)
        wrong_form = client.post(
            "/oauth_token.do",
            data={**client_form, "client_secret": "nope"},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
    assert wrong.status_code == 401
    assert user_basic.status_code == 200
    assert wrong_form.status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        "JOINsys_user.company=sys_id!active=true",
        "RLQUERYsys_user.company,>=1^ENDRLQUERY",
        "nameSAMEAScity",
        "sys_created_onRELATIVEGT@hour@ago@3",
        "name",
    ],
)
def test_an_operator_the_simulator_does_not_know_fails_instead_of_matching_more(
    instance: Served, query: str
) -> None:
    with _client(instance, auth=SN_AUTH) as client:
        response = client.get("/api/now/table/core_company", params={"sysparm_query": query})
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "failure"
    assert body["error"]["message"] == "Invalid query"
    assert query.split("^")[0] in body["error"]["detail"]


def test_between_anything_emptystring_and_not_like_are_honoured(instance: Served) -> None:
    with _client(instance, auth=SN_AUTH) as client:

        def names(query: str) -> list[str]:
            response = client.get(
                "/api/now/table/core_company",
                params={"sysparm_query": f"{query}^ORDERBYname", "sysparm_fields": "name"},
            )
            assert response.status_code == 200, response.text
            return [r["name"] for r in response.json()["result"]]

        every = names("nameANYTHING")
        low, high = every[2], every[5]
        between = names(f"nameBETWEEN{low}@{high}")
        not_like = names(f"nameNOT LIKE{every[0]}")
        empty = names("nameEMPTYSTRING")
    assert between == every[2:6]
    assert every[0] not in not_like and len(not_like) < len(every)
    assert empty == []


def _b64(data: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_batch_api_runs_each_request_with_the_batch_credentials(instance: Served) -> None:
    json_headers = [
        {"name": "Content-Type", "value": "application/json"},
        {"name": "Accept", "value": "application/json"},
    ]
    payload = {
        "batch_request_id": "b1",
        "enforce_order": True,
        "rest_requests": [
            {
                "id": "read",
                "method": "GET",
                "url": "/api/now/table/core_company?sysparm_limit=2&sysparm_fields=name",
                "headers": json_headers,
            },
            {
                "id": "create",
                "method": "POST",
                "url": "/api/now/table/core_company",
                "headers": json_headers,
                "body": _b64({"name": "Batch Supplier Inc.", "vendor": "true"}),
                "exclude_response_headers": True,
            },
            {"id": "missing", "method": "GET", "url": "/api/now/table/core_company/" + "0" * 32},
            {"id": "not-rest", "method": "GET", "url": "/oauth_token.do"},
            {"id": "nested", "method": "POST", "url": "/api/now/v1/batch"},
        ],
    }
    with _client(instance, auth=SN_AUTH) as client:
        answer = client.post("/api/now/v1/batch", json=payload)
        unauthenticated = client.post("/api/now/v1/batch", json=payload, auth=None)
        created = client.get(
            "/api/now/table/core_company", params={"sysparm_query": "name=Batch Supplier Inc."}
        )
        calls = client.get("/_sim/calls").json()["calls"]
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["batch_request_id"] == "b1"
    assert body["unserviced_requests"] == ["not-rest", "nested"]
    served = {r["id"]: r for r in body["serviced_requests"]}
    assert [r["id"] for r in body["serviced_requests"]] == ["read", "create", "missing"]
    read = served["read"]
    assert (read["status_code"], read["status_text"]) == (200, "OK")
    assert len(json.loads(base64.b64decode(read["body"]))["result"]) == 2
    assert {"name": "X-Total-Count", "value": "12"} in read["headers"]
    assert served["create"]["status_code"] == 201
    assert served["create"]["headers"] == []
    assert served["missing"]["status_code"] == 404
    assert isinstance(read["execution_time"], int)
    assert len(created.json()["result"]) == 1
    assert unauthenticated.status_code == 401
    # The batch is one call for the request log (and so for rate limits), whatever it holds.
    batch_calls = [c for c in calls if c["route"] == "/api/now/v1/batch"]
    assert [c["count"] for c in batch_calls] == [2]
    assert not [
        c for c in calls if c["route"] == "/api/now/table/{table}" and c["method"] == "POST"
    ]


def test_batch_api_refuses_a_body_that_is_not_a_batch(instance: Served) -> None:
    with _client(instance, auth=SN_AUTH) as client:
        not_json = client.post(
            "/api/now/v1/batch", content=b"{", headers={"Content-Type": "application/json"}
        )
        no_requests = client.post("/api/now/batch", json={"batch_request_id": "1"})
    assert not_json.status_code == 400
    assert no_requests.status_code == 400
    assert no_requests.json()["status"] == "failure"
