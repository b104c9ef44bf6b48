"""F&O business events to HTTPS endpoints: the documented base fields plus event fields.

Events fire from record changes (so an edit through OData or the inspection API both count).
Each event gets one ControlNumber, increasing with gaps as on the real service, shared by
every endpoint it is sent to. F&O documents no signature for HTTPS endpoints, so each
endpoint carries a configurable shared-secret header; a 5xx (or no answer) is retried.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators import seed as sd
from simulators.base import INSPECTION_PREFIX
from simulators.deliveries import Outbox, subscription_routes
from simulators.finance_operations.entities import FIRST_RECID, NULL_DATE
from simulators.records import Change, Row


@dataclass
class BusinessEventEndpoint:
    url: str
    events: tuple[str, ...] = ("VendorInvoicePostedBusinessEvent",)
    secret_header: str = "X-MLC-Event-Secret"
    secret_value: str = "mlc-event-secret"
    legal_entities: tuple[str, ...] = ()  # activation per legal entity; empty means all


@dataclass(frozen=True)
class EventDef:
    id: str
    entity: str
    field: str  # the event fires when this field becomes ``value``
    value: str
    payload: Callable[[Row], dict[str, Any]]
    major_version: int = 0
    minor_version: int = 0

    def fires(self, change: Change) -> bool:
        if change.table != self.entity or change.after is None:
            return False
        was = change.before.get(self.field) if change.before else None
        return bool(change.after.get(self.field) == self.value and was != self.value)


def ms_date(value: Any) -> str:
    """F&O's JSON date: ``/Date(<ms since epoch>)/``."""
    moment = value if isinstance(value, datetime) else NULL_DATE
    return f"/Date({int(moment.timestamp() * 1000)})/"


CATALOG: dict[str, EventDef] = {
    e.id: e
    for e in (
        EventDef(
            "VendorInvoicePostedBusinessEvent",
            "VendorInvoiceHeaders",
            "IsPosted",
            "Yes",
            lambda r: {
                "InvoiceNumber": r["InvoiceNumber"],
                "VendorAccount": r["InvoiceAccount"],
                "InvoiceDate": ms_date(r["InvoiceDate"]),
                "InvoiceDueDate": ms_date(r["DueDate"]),
                "InvoiceAmount": r["ImportedAmount"],
                "CurrencyCode": r["Currency"],
                "PurchaseOrderNumber": r["PurchaseOrderNumber"],
            },
        ),
        EventDef(
            "PurchaseOrderConfirmedBusinessEvent",
            "PurchaseOrderHeadersV2",
            "DocumentApprovalStatus",
            "Confirmed",
            lambda r: {
                "PurchaseOrderNumber": r["PurchaseOrderNumber"],
                "VendorAccount": r["OrderVendorAccountNumber"],
            },
        ),
        EventDef(
            "PurchaseOrderInvoicedBusinessEvent",
            "PurchaseOrderHeadersV2",
            "PurchaseOrderStatus",
            "Invoiced",
            lambda r: {
                "PurchaseOrderNumber": r["PurchaseOrderNumber"],
                "VendorAccount": r["OrderVendorAccountNumber"],
            },
        ),
    )
}


class BusinessEvents:
    def __init__(
        self, outbox: Outbox, endpoints: list[BusinessEventEndpoint], seed: int, user_id: str
    ) -> None:
        self.outbox = outbox
        self.endpoints = endpoints
        self.user_id = user_id
        self._control = FIRST_RECID
        self._gaps = sd.rng_for(seed, "fno.control-numbers")
        self._lock = threading.Lock()

    def on_change(self, change: Change) -> None:
        for event in CATALOG.values():
            if event.fires(change) and change.after is not None:
                self.raise_event(event, change.after, change.at)

    def raise_event(self, event: EventDef, row: Row, at: datetime) -> None:
        targets = [
            e
            for e in self.endpoints
            if event.id in e.events
            and (not e.legal_entities or row["dataAreaId"] in e.legal_entities)
        ]
        if not targets:
            return
        with self._lock:
            # Other business events interleave on a real system, hence the gaps.
            self._control += self._gaps.randint(1, 4)
            control = self._control
        at = at.astimezone(UTC)
        body = {
            "BusinessEventId": event.id,
            "BusinessEventLegalEntity": row["dataAreaId"],
            "ContextRecordSubject": "",
            "ControlNumber": control,
            "EventId": str(uuid.uuid4()).upper(),
            "EventTime": ms_date(at),
            "EventTimeIso8601": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}0Z",
            "InitiatingUserAADObjectId": "{" + self.user_id.upper() + "}",
            "MajorVersion": event.major_version,
            "MinorVersion": event.minor_version,
            "ParentContextRecordSubjects": [],
            **event.payload(row),
        }
        raw = json.dumps(body).encode()
        for endpoint in targets:
            self.outbox.enqueue(
                event.id,
                endpoint.url,
                raw,
                {endpoint.secret_header: endpoint.secret_value},
                {"control_number": control},
            )


def event_routes(events: BusinessEvents) -> list[Route]:
    """The business event catalog and endpoints (what an admin sets up on the catalog form)."""
    base = f"{INSPECTION_PREFIX}/business-events"

    async def catalog(request: Request) -> Response:
        rows = [{"BusinessEventId": e.id, "entity": e.entity} for e in CATALOG.values()]
        return JSONResponse({"catalog": rows})

    return [
        Route(f"{base}/catalog", catalog, methods=["GET"]),
        *subscription_routes(
            f"{base}/endpoints", events.endpoints, _endpoint, asdict, key="endpoints"
        ),
    ]


def _endpoint(body: Mapping[str, Any]) -> BusinessEventEndpoint:
    if not isinstance(body.get("url"), str):
        raise ValueError('Body must be {"url": ..., "events": [...], ...}')
    unknown = [e for e in body.get("events", []) if e not in CATALOG]
    if unknown:
        raise ValueError(f"Unknown business events: {unknown}")
    defaults = BusinessEventEndpoint(url=body["url"])
    return BusinessEventEndpoint(
        url=body["url"],
        events=tuple(body.get("events", defaults.events)),
        secret_header=str(body.get("secret_header", defaults.secret_header)),
        secret_value=str(body.get("secret_value", defaults.secret_value)),
        legal_entities=tuple(body.get("legal_entities", ())),
    )
