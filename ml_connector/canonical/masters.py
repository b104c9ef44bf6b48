"""Master data: the records documents name by code, and which nothing else is resolved in."""

from __future__ import annotations

from typing import ClassVar

from ml_connector.canonical.base import Canonical, Money


class Vendor(Canonical):
    entity: ClassVar[str] = "vendor"

    number: str
    name: str
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None
    email: str | None = None
    tax_id: str | None = None
    currency: str | None = None
    payment_terms: str | None = None
    blocked: bool = False
    balance: Money | None = None


class Customer(Canonical):
    entity: ClassVar[str] = "customer"

    number: str
    name: str
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    currency: str | None = None
    blocked: bool = False
    balance: Money | None = None
    credit_limit: Money | None = None


class Item(Canonical):
    entity: ClassVar[str] = "item"

    number: str
    name: str
    type: str | None = None
    unit_price: Money | None = None
    unit_cost: Money | None = None
    unit_of_measure: str | None = None
    blocked: bool = False


class GlAccount(Canonical):
    entity: ClassVar[str] = "gl_account"

    number: str
    name: str
    category: str | None = None
    sub_category: str | None = None
    account_type: str | None = None
    direct_posting: bool = True
    blocked: bool = False


class CostCenter(Canonical):
    entity: ClassVar[str] = "cost_center"
    key: ClassVar[str] = "code"

    code: str
    name: str
    dimension: str | None = None
    blocked: bool = False
