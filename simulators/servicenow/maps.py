"""The transform maps of the simulated instance: one declarative entry per staging table.

Staging columns are ``u_``-prefixed (their names are UNCONFIRMED in the docs); every map
coalesces on the ERP's key, so a re-sent row updates instead of duplicating, and reference
columns are filled by matching ERP keys (vendor number, account number, cost center code).
Replace them through ``ServiceNowOptions.transform_maps``.
"""

from __future__ import annotations

from simulators.servicenow.import_sets import TransformMap

SUPPLIER_MAP = TransformMap(
    name="ML Connector Supplier",
    source_table="sn_fcms_intg_imp_supplier",
    target_table="core_company",
    field_map={
        "u_vendor_number": "u_vendor_number",
        "u_name": "name",
        "u_street": "street",
        "u_city": "city",
        "u_state": "state",
        "u_zip": "zip",
        "u_country": "country",
        "u_phone": "phone",
        "u_email": "u_email",
        "u_tax_id": "u_tax_id",
        "u_currency": "u_currency",
        "u_active": "u_active",
    },
    coalesce=("u_vendor_number",),
    mandatory=("name",),
    insert_values={"vendor": "true"},
    # Choice action "reject": a vendor in a currency the instance does not know is an error.
    references={"u_currency": ("fx_currency", "code")},
)

# Where Accounts Payable Operations is installed, the same staging row also fills its supplier
# table, the one ServiceNow documents name: an instance option (``AP_OPERATIONS_MAPS``), since
# an instance without it has only core_company.
AP_SUPPLIER_MAP = TransformMap(
    name="ML Connector AP Supplier",
    source_table="sn_fcms_intg_imp_supplier",
    target_table="sn_fin_supplier",
    # The same staging columns; sn_fin_supplier's own names where they differ.
    field_map={
        **SUPPLIER_MAP.field_map,
        "u_vendor_number": "u_erp_vendor_number",
        "u_email": "email",
        "u_tax_id": "tax_id",
        "u_currency": "currency",
        "u_active": "active",
    },
    coalesce=("u_erp_vendor_number",),
    mandatory=("name",),
    order=200,
)


# What order lines and invoice lines share: amounts and the cost assignment by ERP keys.
_LINE_FIELDS = {
    "u_line_number": "line_number",
    "u_description": "description",
    "u_quantity": "quantity",
    "u_unit_price": "unit_price",
    "u_total": "total_amount",
    "u_gl_account": "gl_account",
    "u_cost_center": "cost_center",
}
_LINE_REFS = {
    "gl_account": ("sn_fin_gl_account", "account_number"),
    "cost_center": ("cmn_cost_center", "code"),
}

GL_ACCOUNT_MAP = TransformMap(
    name="ML Connector GL Account",
    source_table="sn_fcms_intg_gl_account_stage",
    target_table="sn_fin_gl_account",
    field_map={
        "u_account_number": "account_number",
        "u_name": "name",
        "u_account_type": "account_type",
        "u_category": "category",
        "u_description": "description",
        "u_active": "active",
    },
    coalesce=("account_number",),
    mandatory=("name",),
)
COST_CENTER_MAP = TransformMap(
    name="ML Connector Cost Center",
    source_table="sn_fcms_intg_imp_cost_center",
    target_table="cmn_cost_center",
    field_map={
        "u_code": "code",
        "u_name": "name",
        "u_parent_code": "parent",
        "u_valid_from": "valid_from",
        "u_valid_to": "valid_to",
        "u_active": "u_active",
    },
    coalesce=("code",),
    mandatory=("name",),
    references={"parent": ("cmn_cost_center", "code")},
)
# Items have no documented staging table: this is the one the README asks an admin to create.
ITEM_MAP = TransformMap(
    name="ML Connector Item",
    source_table="u_mlc_imp_item",
    target_table="pc_product_cat",
    field_map={
        "u_item_number": "u_erp_item_number",
        "u_name": "name",
        "u_type": "u_type",
        "u_unit_price": "price",
        "u_unit_cost": "cost",
        "u_unit_of_measure": "u_unit_of_measure",
        "u_active": "active",
    },
    coalesce=("u_erp_item_number",),
    mandatory=("name",),
)
ORDER_MAP = TransformMap(
    name="ML Connector Purchase Order",
    source_table="sn_fcms_intg_imp_order",
    target_table="sn_shop_purchase_order",
    field_map={
        "u_po_number": "u_erp_number",
        "u_vendor_number": "supplier",
        "u_order_date": "order_date",
        "u_currency": "currency",
        "u_total": "total_amount",
        "u_status": "state",
        "u_cost_center": "cost_center",
        "u_description": "short_description",
    },
    coalesce=("u_erp_number",),
    mandatory=("supplier",),
    insert_values={"approval": "not requested"},
    references={
        "supplier": ("sn_fin_supplier", "u_erp_vendor_number"),
        "cost_center": ("cmn_cost_center", "code"),
    },
)
ORDER_LINE_MAP = TransformMap(
    name="ML Connector Purchase Order Line",
    source_table="sn_fcms_intg_imp_order_line",
    target_table="sn_shop_purchase_order_line",
    field_map={"u_po_number": "purchase_order", **_LINE_FIELDS},
    coalesce=("purchase_order", "line_number"),
    references={"purchase_order": ("sn_shop_purchase_order", "u_erp_number"), **_LINE_REFS},
)
INVOICE_MAP = TransformMap(
    name="ML Connector AP Invoice",
    source_table="sn_spend_intg_imp_invoice",
    target_table="sn_shop_invoice",
    field_map={
        "u_erp_number": "u_erp_number",
        "u_invoice_number": "invoice_number",
        "u_vendor_number": "supplier",
        "u_invoice_date": "invoice_date",
        "u_due_date": "due_date",
        "u_currency": "currency",
        "u_total": "total_amount",
        "u_tax": "tax_amount",
        "u_po_number": "purchase_order",
        "u_cost_center": "cost_center",
    },
    coalesce=("u_erp_number",),
    mandatory=("supplier", "invoice_number"),
    insert_values={"state": "draft", "approval": "not requested"},
    references={
        "supplier": ("sn_fin_supplier", "u_erp_vendor_number"),
        "purchase_order": ("sn_shop_purchase_order", "u_erp_number"),
        "cost_center": ("cmn_cost_center", "code"),
    },
)
INVOICE_LINE_MAP = TransformMap(
    name="ML Connector AP Invoice Line",
    source_table="sn_spend_intg_imp_invoice_line",
    target_table="sn_shop_invoice_line",
    field_map={"u_erp_number": "invoice", **_LINE_FIELDS},
    coalesce=("invoice", "line_number"),
    references={"invoice": ("sn_shop_invoice", "u_erp_number"), **_LINE_REFS},
)
# Payment details update the invoice they report on, found by its ServiceNow number (an ERP
# files ServiceNow's invoices under it); a row for an unknown invoice is an error.
INVOICE_PAYMENT_MAP = TransformMap(
    name="ML Connector AP Invoice Payment",
    source_table="sn_spend_intg_imp_invoice_payment_detail",
    target_table="sn_shop_invoice",
    field_map={
        "u_number": "number",
        "u_erp_number": "u_erp_number",
        "u_erp_status": "u_erp_status",
        "u_payment_status": "payment_status",
        "u_paid_amount": "paid_amount",
        "u_payment_date": "payment_date",
        "u_payment_reference": "payment_reference",
    },
    coalesce=("number",),
    insert_allowed=False,
)

DEFAULT_TRANSFORM_MAPS: tuple[TransformMap, ...] = (
    SUPPLIER_MAP,
    GL_ACCOUNT_MAP,
    COST_CENTER_MAP,
    ITEM_MAP,
    ORDER_MAP,
    ORDER_LINE_MAP,
    INVOICE_MAP,
    INVOICE_LINE_MAP,
    INVOICE_PAYMENT_MAP,
)

AP_OPERATIONS_MAPS: tuple[TransformMap, ...] = (*DEFAULT_TRANSFORM_MAPS, AP_SUPPLIER_MAP)
