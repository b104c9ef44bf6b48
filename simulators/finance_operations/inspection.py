"""How the F&O simulator's rows appear on the shared ``/_sim/entities`` routes.

A row is addressed by its natural key as in OData (``dataAreaId='usmf',VendorAccountNumber=
'V0001'``) or by the RecId shown as ``_recid``. Inspection writes act as a user in the F&O
client: no posted-document or header-first checks, so a test can post an invoice by setting
``IsPosted`` to ``Yes`` and see the business event fire.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from simulators.finance_operations.odata import parse_key, render_value
from simulators.finance_operations.store import FinanceOperationsStore, FnoError
from simulators.odata import ODataError
from simulators.records import InvalidValue, NotFound, Row, Table


class FnoRecordAdapter:
    def __init__(self, store: FinanceOperationsStore) -> None:
        self.store = store

    def parse_id(self, table: Table, text: str) -> Hashable:
        if text.isdigit():
            return int(text)
        entity = self.store.entities[table.spec.name]
        try:
            row = self.store.find(entity, parse_key(text, entity))
        except ODataError as exc:
            raise InvalidValue(str(exc)) from None
        if row is None:
            raise NotFound(f"No {entity.name} record with key {text}.")
        return row["id"]

    def coerce(self, table: Table, body: dict[str, Any], creating: bool) -> dict[str, Any]:
        entity = self.store.entities[table.spec.name]
        try:
            values = self.store.coerce(entity, body)
        except FnoError as exc:
            raise InvalidValue(str(exc)) from None
        if creating:
            values.setdefault("dataAreaId", self.store.options.legal_entity)
            return self.store.complete(entity, values)
        return values

    def render(self, table: Table, row: Row) -> dict[str, Any]:
        fields = self.store.fields[table.spec.name]
        return {"_recid": row["id"], **{n: render_value(row.get(n)) for n in fields}}
