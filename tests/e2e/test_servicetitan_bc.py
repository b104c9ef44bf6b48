"""ServiceTitan -> Business Central on a real broker against both simulators: customers
aligned, finalized job invoices posted as sales invoices coded to their business unit's
dimension value, payments applied to the right posted invoice; signed webhooks first, the
poll as the backstop; nothing posted twice by a webhook and a poll, or by a reset."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.health import OFFSETS
from app.offsets import group_stopped, reset_group
from devkit.java import free_ports
from producers.servicetitan import business_unit_code

pytestmark = pytest.mark.kafka

ENTITIES = ["customer", "cost_center", "sales_invoice", "payment"]
SMALL = {"customer_count": 6, "invoice_count": 12, "payment_count": 5, "purchase_order_count": 0}
FINAL = ("Posted", "Exported")
# A BC company set up for the contractor: no customers, cost centers or documents of its own.
BC_EMPTY = {"customer_count": 0, "cost_centers": (), "sales_invoice_count": 0,
            "purchase_order_count": 0, "purchase_invoice_count": 0}  # fmt: skip


def _start(factory: Callable[..., Any], **options: Any) -> Any:
    options.setdefault("poll_interval", 2.0)
    return factory(bc_flow=False, vendors=5, sn_purchase_orders=0, sn_invoices=0,
                   servicetitan_entities=ENTITIES, st_options=SMALL, bc_options=BC_EMPTY,
                   **options)  # fmt: skip


def _st(p: Any) -> httpx.Client:
    return httpx.Client(base_url=p.box.st_url, timeout=30)


def st_rows(p: Any, resource: str) -> list[dict[str, Any]]:
    with _st(p) as st:
        return list(st.get(f"/_sim/entities/{resource}").json()["value"])


def posted(p: Any) -> dict[str, dict[str, Any]]:
    """BC's posted sales invoices by the ServiceTitan invoice id they carry."""
    return {i["externalDocumentNumber"]: i for i in p.bc_rows("salesInvoices")
            if i["status"] in ("Open", "Paid") and i["externalDocumentNumber"]}  # fmt: skip


def posted_counts(p: Any) -> Counter[str]:
    return Counter(i["externalDocumentNumber"] for i in p.bc_rows("salesInvoices"))


def payments_posted(p: Any) -> Counter[str]:
    return Counter(e["documentNumber"] for e in p.bc_rows("generalLedgerEntries")
                   if e["documentType"] == "Payment")  # fmt: skip


def expected(p: Any) -> tuple[set[str], set[str]]:
    """(finalized invoice ids, ids of the payments applied to them): what must reach BC."""
    final = {str(i["id"]) for i in st_rows(p, "invoices") if i["syncStatus"] in FINAL}
    paid = {str(x["id"]) for x in st_rows(p, "payments")
            if str(x["appliedTo"][0]["appliedTo"]) in final}  # fmt: skip
    return final, paid


def landed(p: Any) -> bool:
    final, paid = expected(p)
    return set(posted(p)) >= final and set(payments_posted(p)) >= paid


def test_invoices_post_coded_to_their_business_unit_and_payments_apply(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = _start(pipeline_factory, st_webhooks=True)
    p.wait("every finalized invoice and its payments in BC", lambda: landed(p))
    final, paid = expected(p)
    assert final and paid  # the seed has both, or this test proves nothing

    # Customers aligned: each one ServiceTitan holds is a BC customer of that number.
    customers = {c["number"]: c for c in p.bc_rows("customers")}
    for c in st_rows(p, "customers"):
        assert customers[str(c["id"])]["displayName"] == c["name"]
    # Business units are values of the cost center dimension, created where BC lacked them.
    units = {u["name"]: business_unit_code(u, {}) for u in st_rows(p, "business-units")}
    values = {v["code"] for v in p.bc_rows("dimensionValues")}
    assert set(units.values()) <= values

    invoices = {str(i["id"]): i for i in st_rows(p, "invoices")}
    in_bc = posted(p)
    for number in final:
        st, bc = invoices[number], in_bc[number]
        assert bc["customerNumber"] == str(st["customer"]["id"])
        assert bc["shortcutDimension2Code"] == units[st["businessUnit"]["name"]]
        assert Decimal(str(bc["totalAmountIncludingTax"])) == Decimal(str(st["total"]))
        # Every payment applied to the right invoice: what remains open agrees.
        assert Decimal(str(bc["remainingAmount"])) == Decimal(str(st["balance"]))
    assert set(posted_counts(p).values()) == {1}
    assert set(payments_posted(p).values()) == {1}
    assert set(payments_posted(p)) == paid
    assert p.dlq_size("bc") == 0
    # The operator's reconcile agrees, record by record and per cost center.
    result = p.cli("reconcile", "servicetitan-bc")
    assert result.exit_code == 0, result.output
    assert "no differences" in result.output
    for number in final:  # every business unit that has revenue has its row
        assert units[invoices[number]["businessUnit"]["name"]] in result.output


def test_an_invoice_arriving_before_its_customer_posts_once_the_customer_lands(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = _start(pipeline_factory, st_webhooks=True)
    p.wait("the first sync", lambda: landed(p))
    unit = st_rows(p, "business-units")[0]
    with _st(p) as st:
        # Stamped before the poll's cursor: no poll sees this customer until it changes.
        r = st.post("/_sim/entities/customers", json={
            "name": "Late Customer", "type": "Residential", "balance": 0.0,
            "address": {"street": "1 Main St", "city": "Austin", "state": "TX", "zip": "78701",
                        "country": "USA"},
            "modifiedOn": "2023-06-01T00:00:00Z"})  # fmt: skip
        assert r.status_code == 201, r.text
        customer = r.json()
        r = st.post("/_sim/entities/invoices", json={
            "syncStatus": "Posted", "summary": "Late job", "referenceNumber": "999001",
            "invoiceDate": "2024-02-01T00:00:00Z", "dueDate": "2024-03-01T00:00:00Z",
            "subTotal": 200.0, "salesTax": 14.0, "total": 214.0, "balance": 214.0, "memo": "",
            "customer": {"id": customer["id"], "name": customer["name"]},
            "businessUnit": {"id": unit["id"], "name": unit["name"]},
            "items": [{"id": 1, "skuId": 30001, "skuName": "SVC-001", "type": "Service",
                       "description": "AC tune-up", "quantity": 2.0, "price": 100.0,
                       "total": 200.0, "generalLedgerAccount": {"name": "4000"}}]})  # fmt: skip
        assert r.status_code == 201, r.text
        invoice_id = str(r.json()["id"])
    p.wait("the invoice parked on its customer", lambda: "parked" in [
        s.stage for s in p.audit_trail(invoice_id, "sales_invoice", source="st")])  # fmt: skip
    assert invoice_id not in posted_counts(p)
    with _st(p) as st:  # the customer changes: now the poll reads it
        r = st.patch(f"/_sim/entities/customers/{customer['id']}", json={"name": "Lee Late"})
        assert r.status_code == 200, r.text
    p.wait("the invoice posted after its customer", lambda: invoice_id in posted(p))
    assert posted(p)[invoice_id]["customerNumber"] == str(customer["id"])
    assert posted_counts(p)[invoice_id] == 1
    assert p.dlq_size("bc") == 0


def _deliveries(p: Any) -> list[dict[str, Any]]:
    with _st(p) as st:
        return list(st.get("/_sim/deliveries").json()["deliveries"])


def _refused_count(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(s.value for family in text_string_to_metric_families(text)
               for s in family.samples if s.name == "mlc_webhooks_refused_total"
               and s.labels.get("reason") == "unauthenticated")  # fmt: skip


def test_a_bad_signature_is_refused_and_counted_and_the_poll_still_brings_it(
    pipeline_factory: Callable[..., Any],
) -> None:
    base = free_ports(len(OFFSETS))
    p = _start(pipeline_factory, st_webhooks=True, st_signs_with="x" * 40, metrics_port=base)
    p.wait("everything polled into BC", lambda: landed(p))
    pending = next(i for i in st_rows(p, "invoices") if i["syncStatus"] == "Pending")
    with _st(p) as st:
        r = st.patch(f"/_sim/entities/invoices/{pending['id']}", json={"syncStatus": "Posted"})
        assert r.status_code == 200, r.text
    p.wait("the webhook refused", lambda: any(
        a["status"] == 401 for d in _deliveries(p) for a in d["attempts"]))  # fmt: skip
    p.wait("the invoice in BC by polling", lambda: str(pending["id"]) in posted(p))
    stages = [s.stage for s in p.audit_trail(str(pending["id"]), "sales_invoice", source="st")]
    assert "received" not in stages and "polled" in stages
    assert all(a["status"] == 401 for d in _deliveries(p) for a in d["attempts"])
    webhooks = f"http://127.0.0.1:{base + OFFSETS['webhooks']}"
    assert _refused_count(webhooks) >= 1
    assert p.dlq_size("bc") == 0


def test_with_webhooks_off_everything_arrives_by_polling(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = _start(pipeline_factory, st_webhooks=False)
    p.wait("everything polled into BC", lambda: landed(p))
    final, paid = expected(p)
    assert set(posted(p)) == final and set(payments_posted(p)) == paid
    some = sorted(final)[0]
    stages = [s.stage for s in p.audit_trail(some, "sales_invoice", source="st")]
    assert "polled" in stages and "received" not in stages
    assert p.dlq_size("bc") == 0


def test_a_webhook_and_a_poll_of_the_same_invoice_post_it_once(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = _start(pipeline_factory, st_webhooks=True, poll_interval=1.0)
    p.wait("the first sync", lambda: landed(p))
    pending = next(i for i in st_rows(p, "invoices") if i["syncStatus"] == "Pending")
    number = str(pending["id"])
    with _st(p) as st:
        r = st.patch(f"/_sim/entities/invoices/{number}", json={"syncStatus": "Posted"})
        assert r.status_code == 200, r.text

    def seen_both_ways() -> bool:
        stages = {s.stage for s in p.audit_trail(number, "sales_invoice", source="st")}
        return {"received", "polled"} <= stages

    p.wait("the invoice seen by webhook and by poll", seen_both_ways)
    p.wait("the invoice posted", lambda: number in posted(p))
    p.wait("every group caught up", lambda: _caught_up(p))
    assert posted_counts(p)[number] == 1
    assert set(posted_counts(p).values()) == {1}
    assert p.dlq_size("bc") == 0


def _caught_up(p: Any) -> bool:
    from ml_connector.kafka.admin import group_lag

    sinks = [p.topics.sink("bc", e) for e in ENTITIES]
    return group_lag(p.box.bootstrap, p.topics.sink_group("bc"), sinks) == 0


def test_a_reset_of_the_sink_group_to_earliest_posts_nothing_new(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = _start(pipeline_factory, st_webhooks=True)
    p.wait("everything in BC", lambda: landed(p))
    p.wait("the sinks caught up", lambda: _caught_up(p))
    invoices, payments = posted_counts(p), payments_posted(p)
    customers = len(p.bc_rows("customers"))
    group = p.topics.sink_group("bc")
    p.supervisor.hold("sinks")
    p.wait("the sink group to empty", lambda: group_stopped(p.box.bootstrap, group))
    moved = reset_group(p.box.bootstrap, group, to_earliest=True)
    assert sum(m.replayed for m in moved) > 0
    p.supervisor.release("sinks")
    p.wait("the replay written", lambda: _caught_up(p))
    assert posted_counts(p) == invoices
    assert payments_posted(p) == payments
    assert len(p.bc_rows("customers")) == customers
    assert p.dlq_size("bc") == 0
