"""Hostile and malformed requests at the webhook receiver: each gets a 4xx with a reason (or a
202 for what is genuinely a notification), never a 5xx, and nothing bad becomes a hint."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from starlette.testclient import TestClient

from ml_connector.config import parse_settings
from ml_connector.secrets import SecretStore
from ml_connector.state import StateStore
from producers.hint import Hint
from producers.receiver import receiver_app
from producers.registry import build_notifiers
from tests.clients.connections import bc_connection, sn_connection

PUSH_SECRET = "fuzz-push-secret-0123456789"
SN = "/webhooks/servicenow/sn"
BC = "/webhooks/business_central/bc"
SYS_ID = "0123456789abcdef0123456789abcdef"
COMPANY = "11111111-1111-1111-1111-111111111111"
GOOD_PUSH = {"table": "sn_shop_invoice", "sys_id": SYS_ID, "operation": "update"}


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: Any, bootstrap: str) -> Iterator[tuple[TestClient, list[Hint]]]:
    store = SecretStore(tmp_path_factory.mktemp("s") / "secrets.json", Fernet.generate_key())
    for name in ("secret", "password"):
        store.set(name, f"value-{name}")
    store.set("push", PUSH_SECRET)
    url = "http://127.0.0.1:9"
    connections = {
        "bc": bc_connection(url, webhooks=True),
        "sn": sn_connection(url, push={"secret": {"secret": "push"}}),
    }
    settings = parse_settings({
        "connections": {n: c.model_dump(mode="json", exclude_none=True)
                        for n, c in connections.items()},
        "flows": {"a": {"source": "bc", "target": "sn", "entities": ["vendor"]},
                  "b": {"source": "sn", "target": "bc", "entities": ["purchase_invoice"]}},
        "webhooks": {"public_url": "https://mlc.example.com"},
    })  # fmt: skip
    state = StateStore(bootstrap, f"fuzz-state-{uuid.uuid4().hex[:8]}")
    written: list[Hint] = []
    client = TestClient(receiver_app(build_notifiers(settings, store, state), written.extend))
    yield client, written


def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def notification(**item: Any) -> dict[str, Any]:
    resource = f"api/v2.0/companies({COMPANY})/vendors"
    base = {"subscriptionId": "sub-1", "clientState": "state", "resource": resource,
            "changeType": "updated"}  # fmt: skip
    return {"value": [{**base, **item}]}


SECRET_HEADER = {"X-MLC-Push-Secret": PUSH_SECRET}
# (method, path, body bytes or JSON, headers, expected status)
Request = tuple[str, str, Any, dict[str, Any], int]

PATHS: list[Request] = [
    ("POST", "/webhooks/nosuch/bc", {}, {}, 404),
    ("POST", "/webhooks/business_central/nosuch", {}, {}, 404),
    ("POST", "/webhooks/servicenow/bc", GOOD_PUSH, SECRET_HEADER, 404),  # BC's name, SN's route
    ("POST", "/webhooks/business_central/sn", notification(), {}, 404),
    ("POST", "/webhooks/acumatica/sn", {}, {}, 404),
    ("POST", "/webhooks/business_central/" + "x" * 5000, {}, {}, 404),
    ("POST", "/webhooks/business_central/%2e%2e", {}, {}, 404),
    ("POST", "/webhooks/business_central/bc%00", {}, {}, 404),
    ("POST", "/webhooks/servicenow/%F0%9F%92%A5", GOOD_PUSH, SECRET_HEADER, 404),
    ("POST", "/webhooks", {}, {}, 404),
    ("POST", "/webhooks/business_central", {}, {}, 404),
    ("POST", "/nosuch", {}, {}, 404),
    ("PUT", BC, notification(), {}, 405),
    ("DELETE", SN, {}, SECRET_HEADER, 405),
    ("GET", SN, None, SECRET_HEADER, 405),
    ("PATCH", SN, GOOD_PUSH, SECRET_HEADER, 405),
]

BC_BODIES: list[Any] = [
    b"",
    b"[" * 10 + b"{" * 10,
    b"NaN",
    b"1e999999",
    b"\xef\xbb\xbf{}",
    b'{"value": []}\x00',
    b'{"value": [], "value": 5}',
    b"null",
    b"{not json",
    b"\xff\xfe\x00",
    b"[]",
    b"42",
    b'"text"',
    b"true",
    deep(100_000),
    b"x" * (2 << 20),
    {"value": None},
    {"value": {}},
    {"value": "x"},
    {"values": []},
    {"value": [1]},
    {"value": [None]},
    {"value": [[]]},
    {"value": ["x"]},
    notification(subscriptionId=None),
    notification(subscriptionId=5),
    notification(clientState=None),
    notification(clientState=["a"]),
    notification(resource=None),
    notification(resource=5),
    notification(changeType=None),
    notification(changeType="exploded"),
    notification(changeType="UPDATED"),
    notification(resource="not a resource"),
    notification(resource="companies(x)/vendors"),
    notification(resource="companies(../../etc)/vendors"),
    {"value": [{"subscriptionId": "s"}]},
    {"value": [{}]},
]
BC_REFUSED: list[Any] = [  # well formed, but not from the subscription's holder
    notification(),
    notification(clientState="é-non-ascii-ü"),
    notification(clientState=""),
    notification(clientState="\udcff"),
    notification(subscriptionId="x" * 10_000),
    notification(clientState="\x00"),
    {"value": [notification()["value"][0]] * 500},
]

PUSH_BODIES: list[Any] = [
    b"",
    b"null",
    b"{not json",
    b"\xff\xfe",
    b"[]",
    b"[1, 2]",
    b"42",
    deep(100_000),
    b"x" * (2 << 20),
    {},
    {"table": "sn_shop_invoice"},
    {"sys_id": SYS_ID},
    {**GOOD_PUSH, "sys_id": "x^NQsys_idISNOTEMPTY^NQ"},
    {**GOOD_PUSH, "sys_id": SYS_ID + "^NQ"},
    {**GOOD_PUSH, "sys_id": SYS_ID.upper() + "zz"},
    {**GOOD_PUSH, "sys_id": ""},
    {**GOOD_PUSH, "sys_id": 5},
    {**GOOD_PUSH, "sys_id": None},
    {**GOOD_PUSH, "sys_id": [SYS_ID]},
    {**GOOD_PUSH, "table": "sn_shop_invoice^ORsys_id!=x"},
    {**GOOD_PUSH, "table": "../x"},
    {**GOOD_PUSH, "table": "T" * 200},
    {**GOOD_PUSH, "table": 5},
    {**GOOD_PUSH, "table": ""},
    {**GOOD_PUSH, "operation": "drop"},
    {**GOOD_PUSH, "operation": 5},
    {**GOOD_PUSH, "operation": ["delete"]},
    {**GOOD_PUSH, "sys_id": "é" * 32},
]
PUSH_HEADERS: list[dict[str, Any]] = [
    {},
    {"X-MLC-Push-Secret": ""},
    {"X-MLC-Push-Secret": "guess"},
    {"X-MLC-Push-Secret": PUSH_SECRET[:-1]},
    {"X-MLC-Push-Secret": PUSH_SECRET + "x"},
    {"X-MLC-Push-Secret": PUSH_SECRET.upper()},
    {"X-MLC-Push-Secret": "é".encode("latin-1") * 20},
    {"X-MLC-Push-Secret": b"\xff" * 30},
    {"X-MLC-Push-Secret": PUSH_SECRET[::-1]},
    {"X-MLC-Push-Secret": PUSH_SECRET.encode("utf-16-le")},
    {"X-MLC-Push-Secret": "*"},
    {"X-Other": PUSH_SECRET},
    {"Authorization": f"Bearer {PUSH_SECRET}"},
    {"X-MLC-Push-Secret": " " + PUSH_SECRET},
]

CASES: list[Request] = (
    PATHS
    + [("POST", BC, b, {}, 400) for b in BC_BODIES]
    + [("POST", BC, b, {}, 403) for b in BC_REFUSED]
    + [("POST", SN, b, SECRET_HEADER, 400) for b in PUSH_BODIES]
    + [("POST", SN, GOOD_PUSH, h, 401) for h in PUSH_HEADERS]
    + [("GET", BC + "?validationToken=" + "t" * 2000, None, {}, 400)]
)


def send(client: TestClient, method: str, path: str, body: Any, headers: dict[str, Any]) -> Any:
    content = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    return client.request(method, path, content=content, headers=headers)


def test_at_least_a_hundred_hostile_requests() -> None:
    assert len(CASES) >= 100


@pytest.mark.parametrize("case", range(len(CASES)))
def test_a_hostile_request_gets_a_clear_answer(
    receiver: tuple[TestClient, list[Hint]], case: int
) -> None:
    client, written = receiver
    method, path, body, headers, expected = CASES[case]
    before = len(written)
    response = send(client, method, path, body, headers)
    assert response.status_code == expected, (path, str(body)[:200], response.text[:300])
    assert response.json()["error"], response.text
    assert PUSH_SECRET not in response.text
    assert len(written) == before  # nothing of it became a hint


def test_the_genuine_requests_still_pass(receiver: tuple[TestClient, list[Hint]]) -> None:
    client, written = receiver
    echo = client.get(BC, params={"validationToken": "<script>x</script>"})
    assert echo.status_code == 200 and echo.text == "<script>x</script>"
    assert echo.headers["X-Content-Type-Options"] == "nosniff"
    before = len(written)
    assert send(client, "POST", SN, GOOD_PUSH, SECRET_HEADER).status_code == 202
    assert written[before:] == [Hint("sn", "sn_shop_invoice", "updated", SYS_ID,
                                     "sn_shop_invoice", None)]  # fmt: skip
