"""Legacy OData V4 web services of Dynamics NAV / BC on-premises: published pages.

``/{serverInstance}/ODataV4/Company('{name}')/{ServiceName}`` serves a page's fields under the
page's own names (``No``, ``Name``, ``Post_Code``...), over the same rows the API v2.0 serves,
so a change made through one surface is seen through the other as on a real server. Keys are
the page's (``VendorList('V00010')`` or ``PurchaseOrder(Document_Type='Order',No='PO00010')``),
paging is server-driven with ``@odata.nextLink``, ``$filter`` uses the page's field names.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from simulators.business_central.http import ApiContext, bc_error, next_link, odata_response
from simulators.business_central.metadata import EDM_NS, EDMX_NS, plain_type
from simulators.business_central.store import BusinessCentralStore, Row
from simulators.business_central.values import InvalidValue, NotFound, coerce, to_json
from simulators.odata import Kind, list_page

DIMENSION_CODE = "Dimension_Code"  # a page field backed by the dimension's code, not a column


@dataclass(frozen=True)
class PageDef:
    name: str  # the web service name, e.g. "VendorList"
    entity_set: str  # the API v2.0 set holding the same rows
    fields: Mapping[str, tuple[str | None, Kind]]  # page field -> (entity field, kind)
    keys: tuple[str, ...]
    constants: Mapping[str, str] = field(default_factory=dict)  # e.g. Document_Type='Order'
    read_only: frozenset[str] = frozenset({"Last_Date_Modified"})


_VENDOR_FIELDS: Mapping[str, tuple[str | None, Kind]] = {
    "No": ("number", Kind.STRING),
    "Name": ("displayName", Kind.STRING),
    "Address": ("addressLine1", Kind.STRING),
    "Address_2": ("addressLine2", Kind.STRING),
    "City": ("city", Kind.STRING),
    "County": ("state", Kind.STRING),
    "Post_Code": ("postalCode", Kind.STRING),
    "Country_Region_Code": ("country", Kind.STRING),
    "Phone_No": ("phoneNumber", Kind.STRING),
    "E_Mail": ("email", Kind.STRING),
    "VAT_Registration_No": ("taxRegistrationNumber", Kind.STRING),
    "Currency_Code": ("currencyCode", Kind.STRING),
    "Blocked": ("blocked", Kind.STRING),
    "Balance_LCY": ("balance", Kind.DECIMAL),
    "Last_Date_Modified": ("lastModifiedDateTime", Kind.DATE),
}
_PURCHASE_HEADER: Mapping[str, tuple[str | None, Kind]] = {
    "Document_Type": (None, Kind.STRING),
    "No": ("number", Kind.STRING),
    "Buy_from_Vendor_No": ("vendorNumber", Kind.STRING),
    "Posting_Date": ("postingDate", Kind.DATE),
    "Shortcut_Dimension_1_Code": ("shortcutDimension1Code", Kind.STRING),
    "Shortcut_Dimension_2_Code": ("shortcutDimension2Code", Kind.STRING),
    "Currency_Code": ("currencyCode", Kind.STRING),
    "Status": ("status", Kind.STRING),
}
_BALANCE_READ_ONLY = frozenset({"Last_Date_Modified", "Balance_LCY"})  # FlowFields
PAGES: tuple[PageDef, ...] = (
    PageDef("Vendor_Card", "vendors", _VENDOR_FIELDS, ("No",), read_only=_BALANCE_READ_ONLY),
    PageDef("VendorList", "vendors", _VENDOR_FIELDS, ("No",), read_only=_BALANCE_READ_ONLY),
    PageDef(
        "Customer",
        "customers",
        {
            "No": ("number", Kind.STRING),
            "Name": ("displayName", Kind.STRING),
            "E_Mail": ("email", Kind.STRING),
            "Currency_Code": ("currencyCode", Kind.STRING),
            "Blocked": ("blocked", Kind.STRING),
            "Balance_LCY": ("balanceDue", Kind.DECIMAL),
            "Credit_Limit_LCY": ("creditLimit", Kind.DECIMAL),
            "Last_Date_Modified": ("lastModifiedDateTime", Kind.DATE),
        },
        ("No",),
        read_only=_BALANCE_READ_ONLY,
    ),
    PageDef(
        "Item",
        "items",
        {
            "No": ("number", Kind.STRING),
            "Description": ("displayName", Kind.STRING),
            "Type": ("type", Kind.STRING),
            "Base_Unit_of_Measure": ("baseUnitOfMeasureCode", Kind.STRING),
            "Unit_Price": ("unitPrice", Kind.DECIMAL),
            "Unit_Cost": ("unitCost", Kind.DECIMAL),
            "Inventory": ("inventory", Kind.DECIMAL),
            "Blocked": ("blocked", Kind.BOOLEAN),
            "Last_Date_Modified": ("lastModifiedDateTime", Kind.DATE),
        },
        ("No",),
        read_only=frozenset({"Last_Date_Modified", "Inventory"}),
    ),
    PageDef(
        "GLAccounts",
        "accounts",
        {
            "No": ("number", Kind.STRING),
            "Name": ("displayName", Kind.STRING),
            "Account_Category": ("category", Kind.STRING),
            "Account_Subcategory_Descript": ("subCategory", Kind.STRING),
            "Account_Type": ("accountType", Kind.STRING),
            "Direct_Posting": ("directPosting", Kind.BOOLEAN),
            "Blocked": ("blocked", Kind.BOOLEAN),
        },
        ("No",),
        read_only=frozenset(),
    ),
    PageDef(
        "Dimension_Values",
        "dimensionValues",
        {
            DIMENSION_CODE: ("dimensionId", Kind.STRING),
            "Code": ("code", Kind.STRING),
            "Name": ("displayName", Kind.STRING),
        },
        (DIMENSION_CODE, "Code"),
        read_only=frozenset(),
    ),
    PageDef(
        "PurchaseOrder",
        "purchaseOrders",
        {**_PURCHASE_HEADER, "Order_Date": ("orderDate", Kind.DATE)},
        ("Document_Type", "No"),
        {"Document_Type": "Order"},
        read_only=frozenset({"Document_Type", "Status"}),
    ),
    PageDef(
        "PurchaseInvoice",
        "purchaseInvoices",
        {
            **_PURCHASE_HEADER,
            "Vendor_Invoice_No": ("vendorInvoiceNumber", Kind.STRING),
            "Document_Date": ("invoiceDate", Kind.DATE),
            "Due_Date": ("dueDate", Kind.DATE),
        },
        ("Document_Type", "No"),
        {"Document_Type": "Invoice"},
        read_only=frozenset({"Document_Type", "Status"}),
    ),
)
BY_NAME = {p.name: p for p in PAGES}
_RESOURCE_RE = re.compile(r"^(?P<page>\w+)(?:\((?P<keys>.*)\))?$")
_KEY_RE = re.compile(r"(?:(?P<name>\w+)=)?'(?P<value>(?:[^']|'')*)'")


class PageHandlers:
    def __init__(self, store: BusinessCentralStore) -> None:
        self.store = store

    # -- row mapping ---------------------------------------------------------------------

    def _dimension_codes(self, company_id: str) -> dict[str, str]:
        return {r.values["id"]: r.values["code"] for r in self.store.rows(company_id, "dimensions")}

    def page_row(self, page: PageDef, row: Row, codes: Mapping[str, str]) -> dict[str, Any]:
        """The row under the page's names, plus the hidden ``id`` keyset paging needs."""
        out: dict[str, Any] = {"id": row.values["id"]}
        for name, (source, kind) in page.fields.items():
            if source is None:
                out[name] = page.constants.get(name, "")
                continue
            value = row.values.get(source)
            if name == DIMENSION_CODE:
                value = codes.get(str(value), "")
            elif kind is Kind.DATE and isinstance(value, datetime):
                value = value.date()
            out[name] = value
        return out

    def render(self, page: PageDef, row: Row, values: Mapping[str, Any]) -> dict[str, Any]:
        body = {"@odata.etag": self.store.etag(row)}
        body.update({name: to_json(values[name]) for name in page.fields})
        return body

    def entity_values(self, ctx: ApiContext, page: PageDef, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidValue("The request body must be a JSON object.")
        definition = self.store.entity_sets[page.entity_set]
        values: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if name not in page.fields:
                raise InvalidValue(
                    f"The property '{name}' does not exist on type 'NAV.{page.name}'."
                )
            source = page.fields[name][0]
            if source is None or name in page.read_only:
                continue
            if name == DIMENSION_CODE:
                codes = {c: i for i, c in self._dimension_codes(ctx.company_id).items()}
                if value not in codes:
                    raise InvalidValue(f"The Dimension does not exist. Code='{value}'")
                value = codes[value]
            values[source] = coerce(definition, source, value)
        return values

    # -- requests ------------------------------------------------------------------------

    def _company(self, ctx: ApiContext) -> str:
        name = ctx.request.path_params["company"]
        for company in self.store.companies.values():
            if company.name == name:
                return company.id
        raise NotFound(f"The company '{name}' does not exist.")

    def _resolve(self, ctx: ApiContext) -> tuple[PageDef, dict[str, str] | None]:
        match = _RESOURCE_RE.match(ctx.request.path_params["resource"])
        page = BY_NAME.get(match.group("page")) if match else None
        if match is None or page is None:
            raise NotFound(f"The page '{ctx.request.path_params['resource']}' is not published.")
        if match.group("keys") is None:
            return page, None
        found = list(_KEY_RE.finditer(match.group("keys")))
        keys = {
            (m.group("name") or page.keys[-1]): m.group("value").replace("''", "'") for m in found
        }
        return page, keys

    def _rows(self, company_id: str, page: PageDef) -> list[tuple[Row, dict[str, Any]]]:
        codes = self._dimension_codes(company_id)
        return [
            (r, self.page_row(page, r, codes)) for r in self.store.rows(company_id, page.entity_set)
        ]

    def _find(self, company_id: str, page: PageDef, keys: Mapping[str, str]) -> tuple[Row, dict]:
        for row, values in self._rows(company_id, page):
            if all(str(values.get(k)) == v for k, v in keys.items()):
                return row, values
        shown = ", ".join(f"{k}='{v}'" for k, v in keys.items())
        raise NotFound(f"The record does not exist. Identification fields and values: {shown}")

    def _context(self, ctx: ApiContext, page: PageDef, suffix: str = "") -> str:
        company = quote(ctx.request.path_params["company"])
        return f"{ctx.root}/$metadata#Company('{company}')/{page.name}{suffix}"

    async def collection(self, ctx: ApiContext) -> Response:
        company_id = self._company(ctx)
        page, keys = self._resolve(ctx)
        ctx.company_id = company_id
        if keys is not None:
            return await self.entity(ctx, page, keys)
        if ctx.request.method == "POST":
            return await self.create(ctx, page)
        rows = self._rows(company_id, page)
        by_id = {values["id"]: row for row, values in rows}
        params = dict(ctx.request.query_params)
        params.setdefault("$orderby", ",".join(page.keys))
        kinds = {name: kind for name, (_, kind) in page.fields.items()} | {"id": Kind.GUID}
        result = list_page(
            [values for _, values in rows], params, kinds, page.name, self.store.options.page_size
        )
        body: dict[str, Any] = {"@odata.context": self._context(ctx, page)}
        body["value"] = [self.render(page, by_id[v["id"]], v) for v in result.rows]
        link = next_link(ctx.request, result)
        if link is not None:
            body["@odata.nextLink"] = link
        return odata_response(body)

    async def entity(self, ctx: ApiContext, page: PageDef, keys: Mapping[str, str]) -> Response:
        row, values = self._find(ctx.company_id, page, keys)
        method = ctx.request.method
        if method == "GET":
            return self._answer(ctx, page, row, values)
        self.store.check_writable(ctx.company_id, page.entity_set, method, row)
        match = ctx.request.headers.get("if-match")
        if match is None or match.strip() not in ("*", self.store.etag(row)):
            status = 400 if match is None else 412
            return bc_error(
                status,
                "Request_EntityChanged" if match else "BadRequest",
                "Another user has modified the record. Refresh and try again."
                if match
                else "Could not validate the client concurrency token required by the service.",
            )
        if method == "DELETE":
            self.store.delete(ctx.company_id, page.entity_set, row.values["id"])
            return Response(status_code=204)
        changes = self.entity_values(ctx, page, await self._json(ctx))
        row = self.store.update(ctx.company_id, page.entity_set, row.values["id"], changes)
        return self._answer(ctx, page, row)

    async def _json(self, ctx: ApiContext) -> Any:
        try:
            return await ctx.request.json()
        except ValueError as exc:
            raise InvalidValue(f"The request body is not valid JSON: {exc}") from exc

    async def create(self, ctx: ApiContext, page: PageDef) -> Response:
        self.store.check_writable(ctx.company_id, page.entity_set, "POST")
        try:
            body = await ctx.request.json()
        except ValueError as exc:
            raise InvalidValue(f"The request body is not valid JSON: {exc}") from exc
        row = self.store.insert(
            ctx.company_id, page.entity_set, self.entity_values(ctx, page, body)
        )
        return self._answer(ctx, page, row, status=201)

    def _answer(
        self,
        ctx: ApiContext,
        page: PageDef,
        row: Row,
        values: dict | None = None,
        status: int = 200,
    ) -> Response:
        values = values or self.page_row(page, row, self._dimension_codes(ctx.company_id))
        body = {
            "@odata.context": self._context(ctx, page, "/$entity"),
            **self.render(page, row, values),
        }
        return odata_response(body, status, {"ETag": self.store.etag(row)})

    async def companies(self, ctx: ApiContext) -> Response:
        rows = [
            {"Name": c.name, "Display_Name": c.name, "Id": c.id}
            for c in self.store.companies.values()
        ]
        return odata_response({"@odata.context": f"{ctx.root}/$metadata#Company", "value": rows})

    async def metadata(self, ctx: ApiContext) -> Response:
        root = ET.Element("edmx:Edmx", {"Version": "4.0", "xmlns:edmx": EDMX_NS})
        schema = ET.SubElement(
            ET.SubElement(root, "edmx:DataServices"),
            "Schema",
            {"Namespace": "NAV", "xmlns": EDM_NS},
        )
        container = ET.Element("EntityContainer", Name="NAV")
        for page in PAGES:
            props = [(name, kind.value) for name, (_, kind) in page.fields.items()]
            plain_type(schema, page.name, page.keys, *props)
            ET.SubElement(container, "EntitySet", Name=page.name, EntityType=f"NAV.{page.name}")
        schema.append(container)
        text = '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode")
        return Response(text, media_type="application/xml", headers={"OData-Version": "4.0"})
