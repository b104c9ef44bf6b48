"""The ServiceTitan simulator's data: list queries, export feeds and the writes V2 allows.

List endpoints page by ``page``/``pageSize`` over a stable order (the ``sort`` field, then
id), so equal ``modifiedOn`` values never make a page skip or repeat a record. Export feeds
follow the store-wide change sequence: ``continueFrom`` names the last change sent, so a
record changed after it was exported comes round again later in the feed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from simulators.base import SimulatorState
from simulators.odata import Kind, parse_datetime
from simulators.records import Database, InvalidValue, NotFound, Row, TableSpec, coerce_value
from simulators.servicetitan.entities import (
    BILLS,
    INVOICES,
    PAYMENT_TYPES,
    PAYMENTS,
    PURCHASE_ORDERS,
    RESOURCES,
    ResourceDef,
    purchase_order_bill,
)
from simulators.servicetitan.seed import seed_rows

if TYPE_CHECKING:
    from simulators.servicetitan.options import ServiceTitanOptions

MAX_IDS = 50
MAX_PAGE_SIZE = 5000
_SORT_RE = re.compile(r"^([+-]?)(id|modifiedon|createdon)$", re.IGNORECASE)
_SORT_FIELDS = {"id": "id", "modifiedon": "modifiedOn", "createdon": "createdOn"}
INVOICE_STATUSES = ("Pending", "Posted", "Exported")


class StError(Exception):
    """A problem (RFC 7807) answer: status, title and per-field messages."""

    def __init__(self, status: int, title: str, errors: Mapping[str, list[str]] | None = None):
        super().__init__(title)
        self.status = status
        self.title = title
        self.errors = dict(errors or {})


def invalid(errors: Mapping[str, list[str]]) -> StError:
    return StError(400, "One or more validation errors occurred.", errors)


def render(value: Any) -> Any:
    """Stored values to ServiceTitan JSON: UTC timestamps with milliseconds and ``Z``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v) for v in value]
    return value


class ServiceTitanStore(SimulatorState):
    def __init__(self, options: ServiceTitanOptions) -> None:
        super().__init__()
        self.options = options
        self.resources = {r.path: r for r in RESOURCES}
        self.db = Database(self.clock, self.lock)
        for resource in RESOURCES:
            self.db.add_table(
                TableSpec(
                    resource.path,
                    ("id",),
                    new_id=self._id_factory(resource),
                    modified_field="modifiedOn",
                    created_field="createdOn",
                )
            )
        for resource, row in seed_rows(options):
            self.db.insert(resource.path, row, stamp=row["modifiedOn"])

    def _id_factory(self, resource: ResourceDef) -> Callable[[], int]:
        def new_id() -> int:
            ids = self.db.table(resource.path).rows
            return max((i for i in ids if isinstance(i, int)), default=resource.first_id - 1) + 1

        return new_id

    # -- list queries --------------------------------------------------------------------

    def query(self, resource: ResourceDef, params: Mapping[str, str]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}

        def number(name: str, default: int, low: int, high: int | None = None) -> int:
            raw = params.get(name)
            if raw is None:
                return default
            if not re.fullmatch(r"-?\d+", raw.strip()):
                errors.setdefault(name, []).append(f"The value '{raw}' is not valid.")
                return default
            value = int(raw)
            if value < low or (high is not None and value > high):
                bound = f"between {low} and {high}" if high else f"at least {low}"
                errors.setdefault(name, []).append(f"The field {name} must be {bound}.")
            return value

        def moment(name: str) -> datetime | None:
            raw = params.get(name)
            if not raw:
                return None
            try:
                return parse_datetime(raw.strip().replace(" ", "+"))
            except ValueError:
                errors.setdefault(name, []).append(f"The value '{raw}' is not valid.")
                return None

        page = number("page", 1, 1)
        size = number("pageSize", 50, 1, MAX_PAGE_SIZE)
        bounds = {
            ("modifiedOn", True): moment("modifiedOnOrAfter"),
            ("modifiedOn", False): moment("modifiedBefore"),
            ("createdOn", True): moment("createdOnOrAfter"),
            ("createdOn", False): moment("createdBefore"),
        }
        ids = self._ids(params.get("ids"), errors)
        order = self._sort(params.get("sort"), errors)
        active = params.get("active", "True").lower()
        if active not in ("true", "false", "any"):
            errors["active"] = [f"The value '{params['active']}' is not valid."]
        extra = self._invoice_filters(params, errors) if resource is INVOICES else []
        if errors:
            raise invalid(errors)

        def keep(row: Row) -> bool:
            for (name, lower), bound in bounds.items():
                if bound is not None and (row[name] >= bound) != lower:
                    return False
            if ids is not None and row["id"] not in ids:
                return False
            if active != "any" and row.get("active", True) != (active == "true"):
                return False
            return all(test(row) for test in extra)

        rows = [r for r in self.db.rows(resource.path) if keep(r)]
        name, descending = order
        rows.sort(key=lambda r: (r[name], r["id"]), reverse=descending)
        start = (page - 1) * size
        chunk = rows[start : start + size]
        include_total = params.get("includeTotal", "false").lower() == "true"
        return {
            "page": page,
            "pageSize": size,
            "hasMore": start + size < len(rows),
            "totalCount": len(rows) if include_total else None,
            "data": [render(r) for r in chunk],
        }

    def _ids(self, raw: str | None, errors: dict[str, list[str]]) -> set[int] | None:
        if not raw:
            return None
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if len(parts) > MAX_IDS:
            errors["ids"] = [f"The field ids must not list more than {MAX_IDS} ids."]
            return None
        if not all(p.isdigit() for p in parts):
            errors["ids"] = [f"The value '{raw}' is not valid."]
            return None
        return {int(p) for p in parts}

    def _sort(self, raw: str | None, errors: dict[str, list[str]]) -> tuple[str, bool]:
        if not raw:
            return "id", False
        match = _SORT_RE.match(raw.strip())
        if match is None:
            errors["sort"] = [
                f"The value '{raw}' is not valid: use +Field or -Field with Id, ModifiedOn or "
                "CreatedOn."
            ]
            return "id", False
        return _SORT_FIELDS[match.group(2).lower()], match.group(1) == "-"

    def _invoice_filters(
        self, params: Mapping[str, str], errors: dict[str, list[str]]
    ) -> list[Callable[[Row], bool]]:
        tests: list[Callable[[Row], bool]] = []
        if params.get("statuses"):
            wanted = {s.strip() for s in params["statuses"].split(",") if s.strip()}
            bad = sorted(wanted - set(INVOICE_STATUSES))
            if bad:
                errors["statuses"] = [f"The value '{b}' is not valid." for b in bad]
            tests.append(lambda r: r["syncStatus"] in wanted)
        for name, key in (("businessUnitId", "businessUnit"), ("customerId", "customer")):
            raw = params.get(name)
            if raw is None:
                continue
            if not raw.strip().isdigit():
                errors[name] = [f"The value '{raw}' is not valid."]
                continue
            tests.append(_reference_is(key, int(raw)))
        return tests

    # -- export feeds --------------------------------------------------------------------

    def export(self, resource: ResourceDef, token: str | None) -> dict[str, Any]:
        after = decode_continuation(token) if token else 0
        with self.lock:
            table = self.db.table(resource.path)
            pending = sorted(
                (seq, row_id) for row_id, seq in table.sequences.items() if seq > after
            )
            chunk = pending[: self.options.export_page_size]
            rows = [render(table.rows[row_id]) for _, row_id in chunk]
        last = chunk[-1][0] if chunk else after
        return {
            "hasMore": len(pending) > len(chunk),
            "continueFrom": encode_continuation(last),
            "data": rows,
        }

    # -- writes --------------------------------------------------------------------------

    def _values(self, resource: ResourceDef, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid({"request": ["The request body must be a JSON object."]})
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for name, value in body.items():
            kind = resource.writable.get(name)
            if kind is None:
                errors[name] = [f"The field {name} cannot be written on {resource.path}."]
                continue
            try:
                values[name] = coerce_value(kind, value, name)
            except InvalidValue as exc:
                errors[name] = [str(exc)]
        limit = self.options.code_max_length
        code = values.get("code") if resource.unique == "code" else None
        if limit is not None and isinstance(code, str) and len(code) > limit:
            errors["code"] = [f"The field code must be a string with a maximum length of {limit}."]
        if errors:
            raise invalid(errors)
        return values

    def _check_unique(self, resource: ResourceDef, values: Mapping[str, Any], row_id: Any) -> None:
        name = resource.unique
        if name and name in values:
            for other in self.db.rows(resource.path):
                if other[name] == values[name] and other["id"] != row_id:
                    raise invalid({name: [f"The {name} '{values[name]}' is already in use."]})

    def get(self, resource: ResourceDef, row_id: int) -> Row:
        try:
            return self.db.get(resource.path, row_id)
        except NotFound:
            raise StError(404, f"{resource.event} with id {row_id} was not found.") from None

    def create(self, resource: ResourceDef, body: Any) -> Row:
        values = self._values(resource, body)
        missing = {
            n: [f"The {n} field is required."] for n in resource.required if not values.get(n)
        }
        if missing:
            raise invalid(missing)
        defaults = {
            n: (0.0 if k is Kind.DECIMAL else False if k is Kind.BOOLEAN else None)
            for n, k in resource.writable.items()
        }
        with self.lock:
            self._check_unique(resource, values, None)
            return self.db.insert(resource.path, {**defaults, "active": True, **values})

    def patch(self, resource: ResourceDef, row_id: int, body: Any) -> Row:
        values = self._values(resource, body)
        with self.lock:
            self.get(resource, row_id)
            self._check_unique(resource, values, row_id)
            return self.db.update(resource.path, row_id, values)

    def create_payment(self, body: Any, user: str) -> Row:
        if not isinstance(body, dict):
            raise invalid({"request": ["The request body must be a JSON object."]})
        errors: dict[str, list[str]] = {}
        known = {
            "typeId",
            "memo",
            "paidOn",
            "authCode",
            "checkNumber",
            "exportId",
            "status",
            "splits",
        }
        for name in set(body) - known:
            errors[name] = [f"The field {name} cannot be written on payments."]
        type_id = body.get("typeId")
        if type_id not in PAYMENT_TYPES:
            errors["typeId"] = [f"The payment type {type_id!r} does not exist."]
        splits = body.get("splits")
        invoices: list[tuple[Row, float]] = []
        if not isinstance(splits, list) or not splits:
            errors["splits"] = ["At least one split (invoiceId, amount) is required."]
        else:
            for i, split in enumerate(splits):
                invoice_id = split.get("invoiceId") if isinstance(split, dict) else None
                amount = split.get("amount") if isinstance(split, dict) else None
                try:
                    invoice = self.db.get(INVOICES.path, invoice_id)
                except NotFound:
                    errors[f"splits[{i}].invoiceId"] = [f"Invoice {invoice_id!r} was not found."]
                    continue
                if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
                    errors[f"splits[{i}].amount"] = ["The amount must be a positive number."]
                    continue
                invoices.append((invoice, float(amount)))
        paid_on = self.clock.now()
        if body.get("paidOn") is not None:
            try:
                paid_on = parse_datetime(str(body["paidOn"]))
            except ValueError:
                errors["paidOn"] = [f"The value '{body['paidOn']}' is not valid."]
        if errors:
            raise invalid(errors)
        assert isinstance(type_id, int)
        with self.lock:
            first = invoices[0][0]
            payment = self.db.insert(
                PAYMENTS.path,
                {
                    "syncStatus": "Pending",
                    "referenceNumber": str(body.get("checkNumber") or body.get("authCode") or ""),
                    "date": paid_on,
                    "type": PAYMENT_TYPES[type_id],
                    "typeId": type_id,
                    "total": round(sum(amount for _, amount in invoices), 2),
                    "unappliedAmount": 0.0,
                    "memo": str(body.get("memo") or ""),
                    "customer": dict(first["customer"]),
                    "businessUnit": dict(first["businessUnit"]),
                    "appliedTo": [
                        {
                            "appliedTo": inv["id"],
                            "appliedAmount": amount,
                            "appliedOn": paid_on,
                            "appliedBy": user,
                        }
                        for inv, amount in invoices
                    ],
                    "active": True,
                },
            )
            for invoice, amount in invoices:
                balance = round(invoice["balance"] - amount, 2)
                self.db.update(INVOICES.path, invoice["id"], {"balance": balance})
            return payment

    def receive_order(self, order_id: int) -> Row:
        """A user receives a PO with auto-create-bill on: the PO closes, a bill appears."""
        with self.lock:
            order = self.get(PURCHASE_ORDERS, order_id)
            if order["status"] == "Received":
                raise StError(409, f"Purchase order {order['number']} is already received.")
            items = [{**item, "quantityReceived": item["quantity"]} for item in order["items"]]
            received = self.db.update(
                PURCHASE_ORDERS.path, order_id, {"status": "Received", "items": items}
            )
            bill_id = self._id_factory(BILLS)()
            return self.db.insert(
                BILLS.path, purchase_order_bill(received, bill_id, self.clock.now())
            )


def _reference_is(key: str, wanted: int) -> Callable[[Row], bool]:
    return lambda row: bool(row[key]["id"] == wanted)


def encode_continuation(sequence: int) -> str:
    return base64.urlsafe_b64encode(f"st-export:{sequence}".encode()).decode().rstrip("=")


def decode_continuation(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "st-export" or not number.isdigit():
            raise ValueError(token)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        raise invalid({"from": [f"The continuation token '{token}' is not valid."]}) from None
