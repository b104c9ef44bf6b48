"""ServiceTitan as a source: every stream read from the simulator into valid canonical
entities, invoices coded to their business unit, payments naming what they pay, and webhooks
checked by signature before anything else, their records read back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from ml_connector.canonical import model_for
from ml_connector.clients.servicetitan import ServiceTitanClient
from ml_connector.connections.servicetitan import ServiceTitanWebhooks
from ml_connector.secrets import SecretStore
from ml_connector.streams import read
from producers.hint import Hint
from producers.receiver import receiver_app
from producers.servicetitan import SALES_TAX, ServiceTitanSource, business_unit_code
from producers.servicetitan_webhooks import ServiceTitanNotifier, Signature
from simulators import servicetitan
from tests.clients.conftest import Serve
from tests.clients.connections import st_connection

KEY = "k" * 40
URL = "/webhooks/servicetitan/st"


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(servicetitan.create_app(servicetitan.ServiceTitanOptions()))


def _source(url: str, secrets: SecretStore, **mapped: str) -> ServiceTitanSource:
    client = ServiceTitanClient(st_connection(url, page_size=7, app_key="st-app-key"), secrets)
    return ServiceTitanSource(client, lambda unit: business_unit_code(unit, mapped))


async def _all(source: ServiceTitanSource, entity: str) -> list[dict[str, Any]]:
    stream = source.streams[entity]
    return [stream.to_canonical(r) async for page in read(source.client, stream) for r in page]


def test_business_unit_codes_are_learned_from_names_or_configured() -> None:
    unit = {"id": 1001, "name": "HVAC - Service"}
    assert business_unit_code(unit, {}) == "HVAC-SERVICE"
    assert business_unit_code(unit, {"1001": "CC100"}) == "CC100"
    assert business_unit_code(unit, {"hvac - service": "CC200"}) == "CC200"
    assert business_unit_code(unit, {"hvac-service": "CC300"}) == "CC300"
    long = {"id": 7, "name": "Commercial Refrigeration & Kitchen Equipment"}
    assert business_unit_code(long, {}) == "COMMERCIAL-REFRIGERA"
    assert business_unit_code({"id": 9, "name": "***"}, {}) == "BU9"


@pytest.mark.parametrize(
    "entity", ["customer", "cost_center", "sales_invoice", "payment", "purchase_invoice"]
)
async def test_every_stream_reads_into_valid_canonical_entities(
    url: str, secrets: SecretStore, entity: str
) -> None:
    source = _source(url, secrets)
    records = await _all(source, entity)
    await source.aclose()
    assert records, f"the simulator seeds {entity}"
    model = model_for(entity)
    keys = [model.model_validate(r).model_dump()[model.key] for r in records]
    assert len(keys) == len(set(keys))


async def test_only_finalized_invoices_are_read_coded_to_their_business_unit(
    url: str, secrets: SecretStore
) -> None:
    source = _source(url, secrets, **{"plumbing - install": "PLUMB-INST"})
    invoices = await _all(source, "sales_invoice")
    async with httpx.AsyncClient(base_url=url) as sim:
        rows = (await sim.get("/_sim/entities/invoices")).json()["value"]
    await source.aclose()
    by_id = {str(r["id"]): r for r in rows}
    assert {i["number"] for i in invoices} == {
        k for k, r in by_id.items() if r["syncStatus"] in ("Posted", "Exported")
    }
    codes = {
        "HVAC - Service": "HVAC-SERVICE",
        "HVAC - Install": "HVAC-INSTALL",
        "Plumbing - Service": "PLUMBING-SERVICE",
        "Plumbing - Install": "PLUMB-INST",
    }
    for invoice in invoices:
        row = by_id[invoice["number"]]
        assert {line["cost_center"] for line in invoice["lines"]} == {
            codes[row["businessUnit"]["name"]]
        }
        assert sum(line["amount"] for line in invoice["lines"]) == invoice["total_including_tax"]
        tax = [line for line in invoice["lines"] if line["account_number"] == SALES_TAX]
        assert len(tax) == (1 if row["salesTax"] else 0)
        assert invoice["customer_number"] == str(row["customer"]["id"])


async def test_payments_name_the_invoice_and_customer_they_apply_to(
    url: str, secrets: SecretStore
) -> None:
    source = _source(url, secrets)
    payments = await _all(source, "payment")
    await source.aclose()
    assert payments and all(p["applies_to_invoice_number"] for p in payments)
    assert all(p["customer_number"] and p["amount"] > 0 for p in payments)


def _signed(body: bytes, key: str = KEY) -> dict[str, str]:
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return {"x-servicetitan-signature": base64.b64encode(digest).decode()}


@pytest.fixture
def receiver() -> tuple[TestClient, list[Hint]]:
    written: list[Hint] = []
    notifier = ServiceTitanNotifier(Signature(ServiceTitanWebhooks(hmac_key={"secret": "k"}), KEY))
    app = receiver_app({("servicetitan", "st"): notifier}, written.extend)
    return TestClient(app), written


def _event(record_id: Any = 10_000_001, event: str = "invoice.updated") -> bytes:
    return json.dumps({"eventId": "e1", "eventType": event, "tenantId": 1234567,
                       "data": {"id": record_id}}).encode()  # fmt: skip


def test_a_signed_event_becomes_a_hint(receiver: tuple[TestClient, list[Hint]]) -> None:
    client, written = receiver
    body = _event()
    r = client.post(URL, content=body, headers=_signed(body))
    assert r.status_code == 202
    assert [(h.entity_set, h.change_type, h.record_id) for h in written] == [
        ("invoices", "updated", "10000001")
    ]


@pytest.mark.parametrize("headers", [{}, {"x-servicetitan-signature": "bm90IGl0"}, "other key",
                                     "tampered"])  # fmt: skip
def test_a_missing_or_wrong_signature_is_refused_before_the_body_is_read(
    receiver: tuple[TestClient, list[Hint]], headers: Any
) -> None:
    client, written = receiver
    body = _event()
    if headers == "other key":
        headers = _signed(body, "o" * 40)
    elif headers == "tampered":
        headers = _signed(body)
        body = _event(10_000_002)
    bad_json = b"{not json" if headers == {} else body  # refused for the signature first
    r = client.post(URL, content=bad_json, headers=headers)
    assert r.status_code == 401 and "signature" in r.json()["error"]
    assert written == [] and client.app.state.stats.rejected_client_state == 1


def test_a_signed_body_that_is_no_event_is_a_400_with_the_reason(
    receiver: tuple[TestClient, list[Hint]],
) -> None:
    client, written = receiver
    for body in (b"[1]", _event(event="job.created"), _event(record_id="x")):
        r = client.post(URL, content=body, headers=_signed(body))
        assert r.status_code == 400 and r.json()["error"].startswith("not a ServiceTitan")
    assert written == []


async def test_a_hint_reads_the_record_back_and_an_unfinalized_invoice_as_nothing(
    url: str, secrets: SecretStore
) -> None:
    source = _source(url, secrets)
    async with httpx.AsyncClient(base_url=url) as sim:
        rows = (await sim.get("/_sim/entities/invoices")).json()["value"]
    posted = next(r for r in rows if r["syncStatus"] == "Posted")
    pending = next(r for r in rows if r["syncStatus"] == "Pending")
    for row, expected in ((posted, 1), (pending, 0)):
        hint = Hint("st", "invoices", "updated", str(row["id"]), "invoice.updated", None)
        entity, records = await source.records_for(hint)
        assert entity == "sales_invoice" and len(records) == expected
    await source.aclose()
