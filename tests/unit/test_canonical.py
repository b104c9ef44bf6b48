"""The canonical models agree with the Avro schemas, and their declared references."""

from __future__ import annotations

import copy
import io
import json
from datetime import date
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from pydantic import ValidationError

import schemas
from ml_connector import canonical
from ml_connector.canonical import Reference, declared
from ml_connector.canonical.registry import _checked
from ml_connector.canonical.schema import avro_record


def _without_docs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_docs(v) for k, v in value.items() if k != "doc"}
    if isinstance(value, list):
        return [_without_docs(v) for v in value]
    return value


def _avsc(entity: str) -> dict[str, Any]:
    return _without_docs(json.loads((schemas.SCHEMA_DIR / f"{entity}.avsc").read_text()))


def _disagreements(avsc: dict[str, Any], model: dict[str, Any]) -> list[str]:
    """Field by field, so a failure names the field rather than dumping two schemas."""
    out = [f"record {k}: {avsc.get(k)!r} != {model.get(k)!r}" for k in ("name", "namespace")
           if avsc.get(k) != model.get(k)]  # fmt: skip
    theirs = {f["name"]: f for f in avsc["fields"]}
    ours = {f["name"]: f for f in model["fields"]}
    if list(theirs) != list(ours):
        out.append(f"fields: {list(theirs)} != {list(ours)}")
    out += [f"{name}: {theirs[name]} != {ours[name]}" for name in theirs.keys() & ours.keys()
            if theirs[name] != ours[name]]  # fmt: skip
    return out


def test_every_schema_has_its_model_and_no_model_lacks_a_schema() -> None:
    assert sorted(canonical.MODELS) == schemas.entity_names()


@pytest.mark.parametrize("entity", schemas.entity_names())
def test_each_model_is_its_schema_field_by_field(entity: str) -> None:
    assert _disagreements(_avsc(entity), avro_record(canonical.model_for(entity))) == []


def test_a_schema_change_the_model_does_not_follow_is_caught() -> None:
    avsc = _avsc("purchase_invoice")
    changed = copy.deepcopy(avsc)
    lines = changed["fields"][-1]["type"]["items"]["fields"]
    lines.append({"name": "tax_code", "type": ["null", "string"], "default": None})
    changed["fields"][1] = {"name": "vendor_invoice_number", "type": "string"}
    found = _disagreements(changed, avro_record(canonical.model_for("purchase_invoice")))
    assert any(f.startswith("vendor_invoice_number:") for f in found)
    assert any(f.startswith("lines:") and "tax_code" in f for f in found)
    scale = copy.deepcopy(avsc)
    scale["fields"][-3]["type"][1]["scale"] = 2
    assert _disagreements(scale, avro_record(canonical.model_for("purchase_invoice")))


def _sample(avro_type: Any) -> Any:
    """A valid value of each Avro type the canonical schemas use (nullable ones set)."""
    if isinstance(avro_type, list):
        return _sample(avro_type[1])
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") == "decimal":
            return Decimal("-1234.5678")
        if avro_type.get("logicalType") == "date":
            return date(2024, 2, 29)
        if avro_type["type"] == "array":
            return [_sample(avro_type["items"])]
        return {f["name"]: _sample(f["type"]) for f in avro_type["fields"]}
    return {"string": "V10000", "int": 7, "boolean": True}[avro_type]


@pytest.mark.parametrize("entity", schemas.entity_names())
def test_what_avro_decodes_is_a_valid_model_and_dumps_back_unchanged(entity: str) -> None:
    schema = fastavro.parse_schema(schemas.value_schema(entity))
    record = _sample(json.loads((schemas.SCHEMA_DIR / f"{entity}.avsc").read_text()))
    event = {"after": record, "op": "c", "ts_ms": 1, "event_id": "e",
             "source": {"system": "nav", "connection": "c", "entity": entity,
                        "native_id": "1", "seen_via": "poll"}}  # fmt: skip
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, event)
    buf.seek(0)
    decoded = fastavro.schemaless_reader(buf, schema)["after"]  # type: ignore[call-overload, index]
    assert canonical.model_for(entity).model_validate(decoded).model_dump() == decoded


def test_money_beyond_decimal_19_4_is_refused() -> None:
    with pytest.raises(ValidationError, match="decimal places"):
        canonical.model_for("payment").model_validate({"number": "P1", "amount": "1.23456"})


def test_purchase_documents_name_vendor_cost_centers_accounts_and_items() -> None:
    refs = declared("purchase_invoice")
    assert refs.header == (Reference("vendor_number", "vendor", source_id="vendor_ref"),
                           Reference("cost_center", "cost_center"))  # fmt: skip
    assert refs.lines == (Reference("cost_center", "cost_center"),
                          Reference("account_number", "gl_account"),
                          Reference("item_number", "item"))  # fmt: skip
    assert declared("purchase_order") == refs


def test_what_waits_and_what_the_xref_records_follow_from_the_declarations() -> None:
    assert declared("sales_invoice").header == (Reference("customer_number", "customer"),)
    assert Reference("applies_to_invoice_number", "sales_invoice") in declared("payment").header
    assert Reference("applies_to_bill_number", "purchase_invoice") in declared("payment").header
    documents = {"purchase_order", "purchase_invoice", "sales_invoice", "payment"}
    masters = {"vendor", "customer", "item", "gl_account", "cost_center"}
    assert documents == canonical.DOCUMENTS
    assert masters == canonical.MASTERS
    # An invoice a payment applies to is named by code like a master: the xref records it.
    assert masters | {"sales_invoice", "purchase_invoice"} == canonical.REFERENCED
    assert not declared("vendor")


def test_required_fields_and_business_keys_come_from_the_models() -> None:
    assert canonical.required_fields("purchase_invoice") == ["number", "vendor_number"]
    assert canonical.required_fields("cost_center") == ["code", "name"]
    assert canonical.key_field("cost_center") == "code"
    assert canonical.key_field("sales_invoice") == "number"


def test_a_declaration_naming_what_does_not_exist_is_refused() -> None:
    model = canonical.model_for("payment")
    with pytest.raises(TypeError, match="'invoice_no'"):
        _checked(model, (Reference("invoice_no", "sales_invoice"),))
    with pytest.raises(KeyError, match="'credit_memo' is no canonical entity"):
        _checked(model, (Reference("applies_to_invoice_number", "credit_memo"),))
