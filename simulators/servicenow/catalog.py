"""ServiceNow Source-to-Pay tables: suppliers, GL accounts, cost centers, orders, AP invoices.

Names follow apis.md section 3; column names the docs do not settle are plausible platform-style
names and ``u_`` custom columns for ERP keys, all configurable through
``ServiceNowOptions.tables``. ACL roles are per table: Accounts Payable tables need one of the
``sn_ap_apm`` roles (or the seed pages' ``apo_user``), procurement tables a procurement role.
"""

from __future__ import annotations

from simulators.servicenow.tables import (
    BASE_TABLES,
    ColKind,
    Column,
    TableDef,
    _cols,
)

AP_WRITE_ROLES = ("sn_ap_apm.accounts_payable_specialist", "sn_ap_apm.admin", "apo_user")
AP_READ_ROLES = (*AP_WRITE_ROLES, "sn_ap_apm.reader")
PROCUREMENT_ROLES = ("procurement_user", "procurement_admin")
IMPORT_ROLES = ("import_transformer", "import_admin", "import_set_loader")
APPROVAL_STATES = ("requested", "approved", "rejected", "not requested")


def _ref(table: str) -> Column:
    return Column(ColKind.REFERENCE, table)


def _ap(
    name: str, columns: dict[str, Column], display: str = "number", prefix: str = ""
) -> TableDef:
    return TableDef(name, columns, display, AP_READ_ROLES, AP_WRITE_ROLES, number_prefix=prefix)


def _procurement(name: str, columns: dict[str, Column], display: str = "number") -> TableDef:
    return TableDef(name, columns, display, PROCUREMENT_ROLES, PROCUREMENT_ROLES)


_LINE_COLUMNS = {
    **_cols("number", "description", "quantity", "unit_price", "total_amount"),
    "line_number": Column(ColKind.INTEGER),
    "gl_account": _ref("sn_fin_gl_account"),
    "cost_center": _ref("cmn_cost_center"),
}

SN_FIN_SUPPLIER = _ap(
    "sn_fin_supplier",
    {
        **_cols("name", "number", "legal_name", "tax_id", "email", "phone", "currency"),
        **_cols("street", "city", "state", "zip", "country", "u_erp_vendor_number"),
        "company": _ref("core_company"),
        **_cols("active", kind=ColKind.BOOLEAN),
    },
    display="name",
)
ITFM_GL_ACCOUNTS = TableDef(
    "itfm_gl_accounts",
    {**_cols("name", "account_number", "account_type", "description"),
     **_cols("active", kind=ColKind.BOOLEAN)},
    display_field="name",
)  # fmt: skip
SN_FIN_GL_ACCOUNT = _ap(
    "sn_fin_gl_account",
    {
        **_cols("name", "account_number", "account_type", "category", "description"),
        **_cols("active", kind=ColKind.BOOLEAN),
    },
    display="name",
)
CMN_COST_CENTER = TableDef(
    "cmn_cost_center",
    {
        **_cols("name", "code", "account_number", "valid_from", "valid_to"),
        "parent": _ref("cmn_cost_center"),
        "manager": _ref("sys_user"),
        **_cols("u_active", kind=ColKind.BOOLEAN),
    },
    display_field="name",
)
# The product catalog; u_ columns are what the item transform map fills.
PC_PRODUCT_CAT = _procurement(
    "pc_product_cat",
    {
        **_cols("name", "short_description", "price", "cost", "u_erp_item_number", "u_type"),
        **_cols("u_unit_of_measure"),
        **_cols("active", kind=ColKind.BOOLEAN),
    },
    display="name",
)
PROC_PO = _procurement(
    "proc_po",
    {
        **_cols("number", "short_description", "status", "approval", "po_date", "due_by"),
        **_cols("total_cost", "currency", "u_erp_number"),
        "vendor": _ref("core_company"),
        "cost_center": _ref("cmn_cost_center"),
        "requested_by": _ref("sys_user"),
    },
)
PROC_PO_ITEM = _procurement(
    "proc_po_item",
    {
        **_cols("number", "short_description", "status", "cost", "total_cost", "u_line_number"),
        "ordered_quantity": Column(ColKind.INTEGER, default="0"),
        "received_quantity": Column(ColKind.INTEGER, default="0"),
        "purchase_order": _ref("proc_po"),
        "vendor": _ref("core_company"),
        "u_gl_account": _ref("itfm_gl_accounts"),
    },
)
SN_SHOP_PURCHASE_ORDER = _ap(
    "sn_shop_purchase_order",
    {
        **_cols("number", "short_description", "state", "approval", "order_date", "currency"),
        **_cols("total_amount", "u_erp_number"),
        "supplier": _ref("sn_fin_supplier"),
        "cost_center": _ref("cmn_cost_center"),
    },
    prefix="SPO",
)
SN_SHOP_PURCHASE_ORDER_LINE = _ap(
    "sn_shop_purchase_order_line",
    {**_LINE_COLUMNS, "purchase_order": _ref("sn_shop_purchase_order")},
)
SN_SHOP_INVOICE = _ap(
    "sn_shop_invoice",
    {
        **_cols("number", "invoice_number", "invoice_date", "due_date", "currency", "state"),
        **_cols("approval", "total_amount", "tax_amount", "u_erp_number"),
        **_cols("payment_status", "paid_amount", "payment_date", "payment_reference"),
        "u_erp_status": Column(),  # what the ERP did with the invoice: Draft, Open, Paid ...
        "supplier": _ref("sn_fin_supplier"),
        "purchase_order": _ref("sn_shop_purchase_order"),
        "cost_center": _ref("cmn_cost_center"),
    },
    prefix="APINV",
)
SN_SHOP_INVOICE_LINE = _ap(
    "sn_shop_invoice_line",
    {**_LINE_COLUMNS, "invoice": _ref("sn_shop_invoice")},
)

S2P_TABLES: tuple[TableDef, ...] = (
    SN_FIN_SUPPLIER,
    ITFM_GL_ACCOUNTS,
    SN_FIN_GL_ACCOUNT,
    CMN_COST_CENTER,
    PROC_PO,
    PROC_PO_ITEM,
    SN_SHOP_PURCHASE_ORDER,
    SN_SHOP_PURCHASE_ORDER_LINE,
    SN_SHOP_INVOICE,
    SN_SHOP_INVOICE_LINE,
)
# The product catalog starts empty: items arrive from the ERP.
ALL_TABLES: tuple[TableDef, ...] = (*BASE_TABLES, *S2P_TABLES, PC_PRODUCT_CAT)
# Names the seed pages use for the same tables.
TABLE_ALIASES = {"sn_apo_invoice": "sn_shop_invoice"}
