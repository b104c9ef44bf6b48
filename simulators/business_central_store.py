"""The Business Central simulator's data: entity set definitions, companies, rows and etags.

Entity sets are data (``EntitySetDef``), so adding customers or items later is one definition
plus a seeding function; the HTTP layer registers routes for every definition it is given.
Rows keep Python values (datetime, float, bool); rendering to BC's JSON happens in ``render``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulators import seed as sd
from simulators.base import SimulatorState
from simulators.odata import Kind, parse_datetime

if TYPE_CHECKING:
    from simulators.business_central import BusinessCentralOptions

ZERO_GUID = "00000000-0000-0000-0000-000000000000"


class StoreError(Exception):
    """Base of errors the HTTP layer turns into BC error bodies."""


class NotFound(StoreError):
    pass


class DuplicateKey(StoreError):
    pass


class InvalidValue(StoreError):
    pass


@dataclass(frozen=True)
class EntitySetDef:
    name: str  # entity set in the URL, e.g. "vendors"
    type_name: str  # OData type, e.g. "vendor" (Microsoft.NAV.vendor)
    label: str  # table caption used in BC messages, e.g. "Vendor"
    fields: Mapping[str, Kind]  # in the order BC renders them
    key_field: str  # the user-facing unique key ("number")
    number_prefix: str  # prefix of numbers BC assigns when a POST omits the key
    read_only: frozenset[str] = frozenset({"id", "lastModifiedDateTime"})
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)


VENDORS = EntitySetDef(
    name="vendors",
    type_name="vendor",
    label="Vendor",
    fields={
        "id": Kind.GUID,
        "number": Kind.STRING,
        "displayName": Kind.STRING,
        "addressLine1": Kind.STRING,
        "addressLine2": Kind.STRING,
        "city": Kind.STRING,
        "state": Kind.STRING,
        "country": Kind.STRING,
        "postalCode": Kind.STRING,
        "phoneNumber": Kind.STRING,
        "email": Kind.STRING,
        "taxRegistrationNumber": Kind.STRING,
        "currencyCode": Kind.STRING,
        "paymentTermsId": Kind.GUID,
        "blocked": Kind.ENUM,
        "balance": Kind.DECIMAL,
        "lastModifiedDateTime": Kind.DATETIME,
    },
    key_field="number",
    number_prefix="V",
    # balance is a FlowField in BC: computed from ledger entries, never written by the API.
    read_only=frozenset({"id", "lastModifiedDateTime", "balance"}),
    # BC's vendorBlocked enum: blank, Payment, All.
    enums={"blocked": (" ", "Payment", "All")},
    defaults={"paymentTermsId": ZERO_GUID, "blocked": " ", "balance": 0.0},
)

ENTITY_SETS: tuple[EntitySetDef, ...] = (VENDORS,)


@dataclass
class Row:
    values: dict[str, Any]
    version: int  # store-wide row version, like SQL rowversion; feeds the etag


@dataclass
class Company:
    id: str
    name: str
    created_at: datetime
    tables: dict[str, dict[str, Row]] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        stamp = format_datetime(self.created_at)
        return {
            "id": self.id,
            "systemVersion": "25.0.23364.0",
            "timestamp": 0,
            "name": self.name,
            "displayName": self.name,
            "businessProfileId": "",
            "systemCreatedAt": stamp,
            "systemCreatedBy": ZERO_GUID,
            "systemModifiedAt": stamp,
            "systemModifiedBy": ZERO_GUID,
        }


COMPANY_FIELDS: Mapping[str, Kind] = {
    "id": Kind.GUID,
    "name": Kind.STRING,
    "displayName": Kind.STRING,
}


def format_datetime(value: datetime) -> str:
    """ISO-8601 UTC with exactly three fractional digits and Z."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def truncate_ms(value: datetime) -> datetime:
    # BC stores milliseconds; keeping more would make "gt <rendered value>" match the row itself.
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def make_etag(row_id: str, version: int) -> str:
    """Opaque weak etag shaped like BC's: W/"base64('44;<key>;<version>;')"."""
    key = base64.b64encode(uuid.UUID(row_id).bytes).decode()
    inner = f"'44;{key};{version};'"
    return 'W/"' + base64.b64encode(inner.encode()).decode() + '"'


def coerce(definition: EntitySetDef, name: str, value: Any) -> Any:
    """One JSON value to the field's Python type, or InvalidValue (400 on the wire)."""
    kind = definition.fields[name]
    expected = f"'{kind.value}'"
    if kind in (Kind.STRING, Kind.ENUM):
        if not isinstance(value, str):
            raise InvalidValue(f"Cannot convert a primitive value to the expected type {expected}.")
        allowed = definition.enums.get(name)
        if allowed is not None and value not in allowed:
            raise InvalidValue(
                f"Cannot convert the literal '{value}' to the expected type "
                f"'Microsoft.NAV.{definition.type_name}{name[0].upper()}{name[1:]}'."
            )
        return value
    if kind is Kind.GUID:
        try:
            return str(uuid.UUID(str(value)))
        except ValueError as exc:
            raise InvalidValue(
                f"Cannot convert '{value}' to the expected type {expected}."
            ) from exc
    if kind in (Kind.DECIMAL, Kind.INTEGER):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(f"Cannot convert a primitive value to the expected type {expected}.")
        return float(value) if kind is Kind.DECIMAL else int(value)
    if kind is Kind.BOOLEAN:
        if not isinstance(value, bool):
            raise InvalidValue(f"Cannot convert a primitive value to the expected type {expected}.")
        return value
    if kind is Kind.DATETIME:
        try:
            return truncate_ms(parse_datetime(str(value)))
        except ValueError as exc:
            raise InvalidValue(
                f"Cannot convert '{value}' to the expected type {expected}."
            ) from exc
    raise InvalidValue(f"Unsupported property type {expected}.")


class BusinessCentralStore(SimulatorState):
    """Companies and their entity sets, plus the shared clock, tokens and request log."""

    def __init__(self, options: BusinessCentralOptions) -> None:
        super().__init__()
        self.options = options
        self.entity_sets: dict[str, EntitySetDef] = {d.name: d for d in ENTITY_SETS}
        self._version = 0
        self.companies: dict[str, Company] = {}
        company_id = options.company_id or sd.stable_guid(
            "bc-company", options.tenant, options.environment, options.company_name
        )
        company = Company(company_id, options.company_name, options.seed_epoch)
        company.tables = {name: {} for name in self.entity_sets}
        self.companies[company_id] = company
        for values in seed_vendors(options):
            self.insert(company_id, VENDORS.name, values, stamp=values["lastModifiedDateTime"])

    # -- reads ---------------------------------------------------------------------------

    def default_company_id(self) -> str:
        return next(iter(self.companies))

    def _table(self, company_id: str, entity_set: str) -> dict[str, Row]:
        company = self.companies.get(company_id)
        if company is None or entity_set not in company.tables:
            raise NotFound(f"The company '{company_id}' does not exist.")
        return company.tables[entity_set]

    def rows(self, company_id: str, entity_set: str) -> list[Row]:
        with self.lock:
            return list(self._table(company_id, entity_set).values())

    def get(self, company_id: str, entity_set: str, row_id: str) -> Row:
        with self.lock:
            row = self._table(company_id, entity_set).get(row_id.lower())
        if row is None:
            label = self.entity_sets[entity_set].label
            raise NotFound(
                f"The {label} does not exist. Identification fields and values: Id='{row_id}'"
            )
        return row

    def etag(self, row: Row) -> str:
        return make_etag(row.values["id"], row.version)

    def render(self, entity_set: str, row: Row, select: Iterable[str] | None = None) -> dict:
        definition = self.entity_sets[entity_set]
        names = list(select) if select is not None else list(definition.fields)
        out: dict[str, Any] = {"@odata.etag": self.etag(row)}
        for name in names:
            value = row.values.get(name)
            out[name] = format_datetime(value) if isinstance(value, datetime) else value
        return out

    # -- writes --------------------------------------------------------------------------

    def _bump(self, row: Row, stamp: datetime | None) -> None:
        self._version += 1
        row.version = self._version
        row.values["lastModifiedDateTime"] = truncate_ms(stamp or self.clock.now())

    def _check_unique(self, table: dict[str, Row], definition: EntitySetDef, row: Row) -> None:
        key = definition.key_field
        for other in table.values():
            same_row = other.values["id"] == row.values["id"]
            if not same_row and other.values.get(key) == row.values.get(key):
                raise DuplicateKey(
                    f"The record already exists. Identification fields and values: "
                    f"{key}='{row.values.get(key)}'"
                )

    def _next_number(self, table: dict[str, Row], definition: EntitySetDef) -> str:
        # BC's number series: prefix plus digits, stepping by 10 past the highest in use.
        prefix = definition.number_prefix
        used = [
            int(str(r.values.get(definition.key_field))[len(prefix) :])
            for r in table.values()
            if str(r.values.get(definition.key_field, "")).startswith(prefix)
            and str(r.values.get(definition.key_field))[len(prefix) :].isdigit()
        ]
        return f"{prefix}{max(used, default=0) + 10:05d}"

    def insert(
        self,
        company_id: str,
        entity_set: str,
        values: Mapping[str, Any],
        *,
        stamp: datetime | None = None,
    ) -> Row:
        """Insert coerced ``values``; the server assigns id, key (if blank), stamp and etag."""
        definition = self.entity_sets[entity_set]
        with self.lock:
            table = self._table(company_id, entity_set)
            data: dict[str, Any] = {
                name: definition.defaults.get(name, "" if kind is Kind.STRING else None)
                for name, kind in definition.fields.items()
            }
            data.update(values)
            data["id"] = str(values.get("id") or uuid.uuid4()).lower()
            if not data.get(definition.key_field):
                data[definition.key_field] = self._next_number(table, definition)
            row = Row(data, 0)
            self._check_unique(table, definition, row)
            self._bump(row, stamp)
            table[data["id"]] = row
            return row

    def update(
        self,
        company_id: str,
        entity_set: str,
        row_id: str,
        changes: Mapping[str, Any],
        *,
        stamp: datetime | None = None,
    ) -> Row:
        """Apply ``changes``; only a real change moves lastModifiedDateTime and the etag."""
        definition = self.entity_sets[entity_set]
        with self.lock:
            table = self._table(company_id, entity_set)
            row = self.get(company_id, entity_set, row_id)
            changed = {k: v for k, v in changes.items() if row.values.get(k) != v}
            if not changed and stamp is None:
                return row
            candidate = Row({**row.values, **changed}, row.version)
            self._check_unique(table, definition, candidate)
            row.values.update(changed)
            self._bump(row, stamp)
            return row

    def delete(self, company_id: str, entity_set: str, row_id: str) -> None:
        with self.lock:
            row = self.get(company_id, entity_set, row_id)
            del self._table(company_id, entity_set)[row.values["id"]]


def seed_vendors(options: BusinessCentralOptions) -> list[dict[str, Any]]:
    """Deterministic vendors; ``records_per_timestamp`` of them share each timestamp.

    Shared timestamps are deliberate: a delta cursor on lastModifiedDateTime alone skips or
    repeats records at page and poll boundaries, and the connector must prove it does not.
    """
    rng = sd.rng_for(options.seed, "bc.vendors")
    terms = [sd.stable_guid("bc-payment-terms", code) for code in ("1M(8D)", "14 DAYS", "CM")]
    group = max(1, options.records_per_timestamp)
    vendors: list[dict[str, Any]] = []
    for i in range(options.vendor_count):
        name = sd.company_name(rng)
        addr = sd.address(rng)
        slot = i // group
        stamp = options.seed_epoch + timedelta(minutes=7 * slot, milliseconds=(slot * 137) % 1000)
        vendors.append(
            {
                "id": sd.random_guid(rng),
                "number": f"V{(i + 1) * 10:05d}",
                "displayName": name,
                "addressLine1": addr.street,
                "addressLine2": "",
                "city": addr.city,
                "state": addr.state,
                "country": addr.country,
                "postalCode": addr.postal_code,
                "phoneNumber": sd.phone_number(rng),
                "email": sd.email_for(name, i + 1),
                "taxRegistrationNumber": sd.tax_id(rng),
                "currencyCode": rng.choice(("", "", "", "CAD", "EUR")),
                "paymentTermsId": rng.choice(terms),
                "blocked": rng.choice((" ",) * 8 + ("Payment", "All")),
                "balance": round(rng.uniform(0, 25000), 2),
                "lastModifiedDateTime": stamp,
            }
        )
    return vendors
