"""The Acumatica simulator's data and write rules: upsert by key, value wrapping, 422s.

Rows hold plain Python values (details as lists of dicts); the wire form wraps every value in
``{"value": ...}``. ``upsert`` is ``PUT /{Entity}``: matched on ``id`` or the key fields,
insert otherwise, with ``If-Match: *`` / ``If-None-Match: *`` narrowing it to update / insert.
Computed fields (totals, balance, status) are derived here, as the Acumatica graph would.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from simulators import seed as sd
from simulators.acumatica import linked
from simulators.acumatica.entities import ENTITIES, EntityDef
from simulators.acumatica.linked import ENVELOPE, render_value
from simulators.acumatica.seed import seed_rows
from simulators.base import SimulatorState
from simulators.odata import Kind
from simulators.records import Database, InvalidValue, NotFound, Row, TableSpec, coerce_value

if TYPE_CHECKING:
    from simulators.acumatica.options import AcumaticaOptions


class AcumaticaError(Exception):
    """An error rendered in Acumatica's ``{"message", "exceptionMessage", ...}`` shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def acumatica_error(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Acumatica's error body (ASP.NET Web API's HttpError with the exception's message)."""
    body = {
        "message": "An error has occurred.",
        "exceptionMessage": message,
        "exceptionType": "PX.Data.PXException",
        "stackTrace": "",
    }
    return JSONResponse(body, status, headers=dict(headers or {}))


class Unprocessable(Exception):
    """422: the record as it would have been saved, with ``error`` on the offending fields."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("validation failed")
        self.body = body


def wrap(
    entity: EntityDef,
    row: Mapping[str, Any],
    *,
    row_number: int = 1,
    select: Iterable[str] | None = None,
    expand: Iterable[str] = (),
    self_link: str | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The wire shape: ``{"id", "rowNumber", "Field": {"value": ...}, ..., "custom": {}}``."""
    errors = errors or {}
    names = list(select) if select is not None else list(entity.fields)
    out: dict[str, Any] = {"id": row.get("id"), "rowNumber": row_number}
    for name in names:
        if name in entity.fields:
            cell: dict[str, Any] = {"value": render_value(row.get(name))}
            if name in errors:
                cell["error"] = errors[name]
            out[name] = cell
    expand = list(expand)
    for name, definition in entity.linked.items():
        if name in expand:
            out[name] = linked.render(definition, row.get(name), name, expand)
    for name in entity.details:
        if name in expand:
            out[name] = [
                {
                    "id": line.get("id"),
                    "rowNumber": i,
                    **{f: {"value": render_value(line.get(f))} for f in entity.details[name]},
                    "custom": {},
                }
                for i, line in enumerate(row.get(name) or [], start=1)
            ]
    out["custom"] = {}
    if self_link:
        out["_links"] = {"self": self_link}
    return out


def flat(entity: EntityDef, row: Mapping[str, Any]) -> dict[str, Any]:
    """Unwrapped top-level values, as push notification rows carry them."""
    return {name: render_value(row.get(name)) for name in entity.fields}


@dataclass
class Operation:
    """A long-running action (``POST /{Entity}/{Action}``) polled through its Location."""

    id: str
    entity: str
    action: str
    row_id: Hashable
    due: datetime
    state: str = "running"  # running, completed, failed
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def iter_ids() -> Iterator[str]:
    """Fresh ids for records the server creates (linked entities of a new record)."""
    while True:
        yield str(uuid.uuid4())


class AcumaticaStore(SimulatorState):
    def __init__(self, options: AcumaticaOptions) -> None:
        super().__init__()
        self.options = options
        self.entities = {e.name: e for e in ENTITIES}
        self.db = Database(self.clock, self.lock)
        for entity in ENTITIES:
            self.db.add_table(
                TableSpec(
                    entity.name,
                    entity.key,
                    new_id=lambda: str(uuid.uuid4()),
                    modified_field="LastModifiedDateTime",
                    created_field="CreatedDateTime" if "CreatedDateTime" in entity.fields else None,
                )
            )
        self.operations: dict[str, Operation] = {}
        self._numbers: dict[tuple[str, tuple[Any, ...]], int] = {}
        self._seed()

    def _seed(self) -> None:
        rng = sd.rng_for(self.options.seed, "acumatica.ids")
        for entity, values in seed_rows(self.options):
            released = values.pop("_released", False)
            stamp = values.pop("LastModifiedDateTime")
            data = self._derive(entity, {**entity.defaults, **values, "id": sd.random_guid(rng)})
            for name in entity.details:
                for line in data.get(name, []):
                    line["id"] = sd.random_guid(rng)
            for name, definition in entity.linked.items():
                ids = (sd.random_guid(rng) for _ in iter(int, 1))
                data[name] = linked.seeded(definition, data.get(name) or {}, ids)
            if released:
                data.update(Status="Open", Hold=False)
            self.db.insert(entity.name, data, stamp=stamp)
            scope = (entity.name, tuple(data.get(k) for k in entity.key[:-1]))
            self._numbers[scope] = self._numbers.get(scope, 0) + 1

    # -- reads ---------------------------------------------------------------------------

    def rows(self, entity: EntityDef) -> list[Row]:
        self.settle()
        rows = self.db.rows(entity.name)
        return sorted(rows, key=lambda r: tuple(str(r.get(k)) for k in entity.key))

    def find(self, entity: EntityDef, ident: Mapping[str, Any]) -> Row | None:
        """By ``id`` when given, else by the full key; None when nothing matches."""
        self.settle()
        if ident.get("id"):
            try:
                return self.db.get(entity.name, str(ident["id"]).lower())
            except NotFound:
                return None
        if all(ident.get(k) not in (None, "") for k in entity.key):
            return self.db.find(entity.name, (ident[k] for k in entity.key))
        return None

    # -- writes --------------------------------------------------------------------------

    def unwrap(self, entity: EntityDef, body: Any) -> dict[str, Any]:
        """Wire body to plain values (details stay lists of wrapped dicts for the merge)."""
        if not isinstance(body, dict):
            raise AcumaticaError(400, "The request body must be a JSON object.")
        values: dict[str, Any] = {}
        for name, cell in body.items():
            if name in ENVELOPE:
                if name == "id" and cell:
                    values["id"] = str(cell).lower()
                continue
            if name in entity.linked:
                values[name] = cell  # merged into the stored value by upsert
                continue
            if name in entity.details:
                if not isinstance(cell, list):
                    raise AcumaticaError(400, f"'{name}' must be an array of detail records.")
                values[name] = cell
                continue
            if name not in entity.fields:
                raise AcumaticaError(
                    400, f"The field '{name}' is not defined for the entity '{entity.name}'."
                )
            if not isinstance(cell, dict) or "value" not in cell:
                raise AcumaticaError(
                    400, f"The value of '{name}' must be wrapped: {{\"value\": ...}}."
                )
            values[name] = cell["value"]
        return values

    def _coerce(
        self, fields: Mapping[str, Kind], raw: Mapping[str, Any], errors: dict[str, str]
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if name not in fields:
                continue
            try:
                values[name] = coerce_value(fields[name], value, name)
            except InvalidValue as exc:
                errors[name] = str(exc)
        return values

    def _merge_details(
        self, entity: EntityDef, name: str, current: list[dict[str, Any]], incoming: list[Any]
    ) -> list[dict[str, Any]]:
        """Acumatica's detail semantics: ``id`` updates a line, ``delete`` removes it, a line
        without ``id`` is added; lines the request does not mention stay."""
        fields = entity.details[name]
        lines = [dict(line) for line in current]
        for item in incoming:
            if not isinstance(item, dict):
                raise AcumaticaError(400, f"Each of '{name}' must be an object.")
            raw = {k: v["value"] for k, v in item.items() if isinstance(v, dict) and "value" in v}
            errors: dict[str, str] = {}
            values = self._coerce(fields, raw, errors)
            if errors:
                raise Unprocessable({name: [{k: {"error": v} for k, v in errors.items()}]})
            target = next((li for li in lines if item.get("id") and li["id"] == item["id"]), None)
            if item.get("delete"):
                lines = [li for li in lines if li is not target]
            elif target is not None:
                target.update(values)
            else:
                lines.append({"id": str(uuid.uuid4()), **dict.fromkeys(fields), **values})
        return lines

    def _derive(self, entity: EntityDef, data: dict[str, Any]) -> dict[str, Any]:
        """Totals and status as the Acumatica graph computes them."""
        lines = data.get("Details") or []
        for i, line in enumerate(lines, start=1):
            if "LineNbr" in entity.details.get("Details", {}) and not line.get("LineNbr"):
                line["LineNbr"] = i
        released = data.get("Status") in entity.released_statuses
        if entity.name == "Bill":
            for line in lines:
                # Amount follows Qty x Unit Cost; a line without a unit cost keeps its amount.
                if line.get("UnitCost") is not None or line.get("Amount") is None:
                    line["Amount"] = round((line.get("Qty") or 0) * (line.get("UnitCost") or 0), 2)
            if not released:
                data["Amount"] = round(sum(line["Amount"] or 0 for line in lines), 2)
                data["Balance"] = data["Amount"]
                data["Status"] = "On Hold" if data.get("Hold") else "Balanced"
        elif entity.name == "PurchaseOrder":
            for line in lines:
                qty, cost = line.get("OrderQty") or 0, line.get("UnitCost") or 0
                line["ExtendedCost"] = round(qty * cost, 2)
            data["OrderTotal"] = round(sum(line["ExtendedCost"] for line in lines), 2)
            if not released:
                data["Status"] = "On Hold" if data.get("Hold") else "Open"
        elif entity.name == "Check" and not released:
            data["Status"] = "On Hold" if data.get("Hold") else "Balanced"
        return data

    def _validate(self, entity: EntityDef, data: Mapping[str, Any]) -> dict[str, str]:
        errors: dict[str, str] = {}
        for name in entity.required:
            if data.get(name) in (None, ""):
                errors[name] = f"'{entity.label(name)}' cannot be empty."
        for name, allowed in entity.choices.items():
            if data.get(name) not in (None, *allowed):
                errors[name] = f"{entity.label(name)}: the value '{data.get(name)}' is not valid."
        for name, target in entity.references.items():
            value = data.get(name)
            if value and self.db.find(target, (value,)) is None:
                errors[name] = f"{entity.label(name)} '{value}' cannot be found in the system."
        return errors

    def _line_errors(self, entity: EntityDef, data: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in entity.details:
            bad = []
            for line in data.get(name) or []:
                errors = {
                    f: f"{f} '{line.get(f)}' cannot be found in the system."
                    for f, target in entity.detail_references.items()
                    if line.get(f) and self.db.find(target, (line[f],)) is None
                }
                bad.append(errors)
            if any(bad):
                out[name] = bad
        return out

    def _next_number(self, entity: EntityDef, data: Mapping[str, Any]) -> str:
        assert entity.number_format is not None
        scope = (entity.name, tuple(data.get(k) for k in entity.key[:-1]))
        n = self._numbers.get(scope, 0) + 1
        while self.db.find(entity.name, (*scope[1], entity.number_format.format(n))):
            n += 1
        self._numbers[scope] = n
        return entity.number_format.format(n)

    def prepare(self, entity: EntityDef, data: dict[str, Any], new: bool = True) -> dict[str, Any]:
        """Derived fields, plus the next number when a new record comes without its key."""
        with self.lock:
            if new:
                # What the screen fills in: the business date and the user's branch.
                today = self.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
                for name in ("Date", "ApplicationDate"):
                    if name in entity.fields and data.get(name) is None:
                        data[name] = today
                if "BranchID" in entity.fields and not data.get("BranchID"):
                    data["BranchID"] = self.options.default_branch
            data = self._derive(entity, data)
            last = entity.key[-1]
            if new and not data.get(last) and entity.number_format:
                data[last] = self._next_number(entity, data)
            return data

    def upsert(
        self,
        entity: EntityDef,
        body: Any,
        *,
        update_only: bool = False,
        insert_only: bool = False,
    ) -> tuple[Row, bool]:
        """``PUT /{Entity}``; returns (row, created)."""
        raw = self.unwrap(entity, body)
        with self.lock:
            # A key part left out takes its default (a Bill's Type is "Bill"), as on screen.
            key_defaults = {k: entity.defaults[k] for k in entity.key if k in entity.defaults}
            existing = self.find(entity, {**key_defaults, **raw})
            if update_only and existing is None:
                raise AcumaticaError(412, "The entity does not exist: If-Match: * needs one.")
            if insert_only and existing is not None:
                raise AcumaticaError(412, "The entity already exists: If-None-Match: * forbids it.")
            errors: dict[str, str] = {}
            plain = {k: v for k, v in raw.items() if k in entity.fields}
            values = self._coerce(entity.fields, plain, errors)
            for name in entity.computed:
                values.pop(name, None)
            if existing is not None and existing.get("Status") in entity.released_statuses:
                for name, value in values.items():
                    if existing.get(name) != value:
                        errors[name] = f"The document is {existing['Status']} and cannot be edited."
            base = dict(existing) if existing is not None else {**entity.defaults}
            data = {**base, **values}
            for name in entity.details:
                current = list(base.get(name) or [])
                data[name] = self._merge_details(entity, name, current, raw.get(name) or [])
                released = (
                    existing is not None and existing.get("Status") in entity.released_statuses
                )
                if released and data[name] != current:
                    errors[name] = "The document has been released: its lines are read-only."
            for name, definition in entity.linked.items():
                if name not in raw:
                    data.setdefault(name, linked.seeded(definition, {}, iter_ids()))
                    continue
                try:
                    data[name], problems = linked.merge(definition, base.get(name), raw[name], name)
                except linked.LinkedShapeError as exc:
                    raise AcumaticaError(400, str(exc)) from exc
                errors.update(problems)
            data = self.prepare(entity, data, new=existing is None)
            errors.update(self._validate(entity, data))
            line_errors = self._line_errors(entity, data)
            if errors or line_errors:
                shown = [*entity.details, *linked.sent(entity.linked, raw)]
                body_out = wrap(entity, data, errors=errors, expand=shown)
                linked.mark_errors(body_out, errors)
                for name, bad in line_errors.items():
                    for cell, problems in zip(body_out[name], bad, strict=True):
                        for f, message in problems.items():
                            cell[f]["error"] = message
                raise Unprocessable(body_out)
            if existing is None:
                data.pop("id", None)  # the server assigns ids to new records
                return self.db.insert(entity.name, data), True
            changes = {k: v for k, v in data.items() if k != "id"}
            return self.db.update(entity.name, existing["id"], changes), False

    def delete(self, entity: EntityDef, row: Row) -> None:
        with self.lock:
            if row.get("Status") in entity.released_statuses:
                raise AcumaticaError(422, f"The document is {row['Status']} and cannot be deleted.")
            self.db.delete(entity.name, row["id"])

    # -- actions -------------------------------------------------------------------------

    def start(self, entity: EntityDef, action: str, row: Row) -> Operation:
        due = self.clock.now() + timedelta(seconds=self.options.action_seconds)
        op = Operation(str(uuid.uuid4()), entity.name, action, row["id"], due)
        with self.lock:
            self.operations[op.id] = op
        self.settle()
        return op

    def settle(self) -> None:
        """Finish operations whose time has come (on the simulator clock)."""
        now = self.clock.now()
        with self.lock:
            due = [o for o in self.operations.values() if o.state == "running" and o.due <= now]
            for op in due:
                try:
                    ACTIONS[(op.entity, op.action)](self, self.db.get(op.entity, op.row_id))
                    op.state = "completed"
                except AcumaticaError as exc:
                    op.state, op.error = "failed", str(exc)
                except NotFound:
                    op.state, op.error = "failed", "No entity satisfies the condition."


def _release_bill(store: AcumaticaStore, row: Row) -> None:
    if row["Status"] != "Balanced":
        raise AcumaticaError(500, f"The document is {row['Status']} and cannot be released.")
    store.db.update("Bill", row["id"], {"Status": "Open", "Balance": row["Amount"]})


def _release_check(store: AcumaticaStore, row: Row) -> None:
    if row["Status"] != "Balanced":
        raise AcumaticaError(500, f"The payment is {row['Status']} and cannot be released.")
    for line in row.get("Details") or []:
        bill = store.db.find("Bill", (line.get("DocType") or "Bill", line.get("ReferenceNbr")))
        if bill is None or bill["Status"] != "Open":
            raise AcumaticaError(
                500, f"The document {line.get('ReferenceNbr')} is not open and cannot be paid."
            )
        balance = round(bill["Balance"] - (line.get("AmountPaid") or 0), 2)
        status = "Closed" if balance <= 0 else "Open"
        store.db.update("Bill", bill["id"], {"Balance": max(balance, 0.0), "Status": status})
    store.db.update("Check", row["id"], {"Status": "Closed"})


ACTIONS = {
    ("Bill", "ReleaseBill"): _release_bill,
    ("Check", "ReleaseCheck"): _release_check,
}
