"""Reference resolution of documents: overrides, the learned xref, and what must be waited for."""

from __future__ import annotations

from typing import Any

from ml_connector.config import MappingRules, Settings, parse_settings
from ml_connector.flows import returned_documents
from ml_connector.xref import XrefEntry
from processors.resolve import Awaited, Resolver, resolvers
from tests.unit.test_config import BC, SN

MASTERS = frozenset({"vendor", "gl_account", "cost_center"})
PI = "purchase_invoice"


class FakeXref:
    """The two questions a resolver asks, answered from a list of entries."""

    def __init__(self, *entries: XrefEntry) -> None:
        self.entries = list(entries)

    def holds(self, connection: str, entity: str, code: str) -> bool:
        return any(e.connection == connection and e.entity == entity
                   and e.code.casefold() == code.casefold() for e in self.entries)  # fmt: skip

    def peer_code(self, connection: str, entity: str, native_id: str, peer: str) -> str | None:
        wanted = (connection, entity, native_id, peer)
        found = (e for e in self.entries
                 if (e.connection, e.entity, e.native_id, e.peer_connection) == wanted)  # fmt: skip
        return next((e.peer_code for e in found), None)


def _doc(**header: Any) -> dict[str, Any]:
    line = {"line_number": 1, "account_number": "60100", "item_number": None,
            "cost_center": "CC200"}  # fmt: skip
    return {"number": "APINV1", "vendor_number": "", "vendor_ref": "sup1",
            "cost_center": "CC200", "lines": [line], **header}  # fmt: skip


def _bc(entity: str, code: str) -> XrefEntry:
    return XrefEntry("bc", entity, f"id-{code}", code)


def test_a_document_waits_for_every_master_the_target_has_not_sent() -> None:
    xref = FakeXref(_bc("gl_account", "60100"))
    resolver = Resolver("sn", "bc", MappingRules(), xref, MASTERS)
    _, missing = resolver.resolve(PI, _doc(vendor_number="V00010"))
    assert missing == [Awaited("vendor", "V00010"), Awaited("cost_center", "CC200")]


def test_a_supplier_without_an_erp_number_waits_for_the_learned_xref() -> None:
    xref = FakeXref(_bc("gl_account", "60100"), _bc("cost_center", "CC200"))
    resolver = Resolver("sn", "bc", MappingRules(), xref, MASTERS)
    _, missing = resolver.resolve(PI, _doc())
    assert missing == [Awaited("vendor", "", "sup1")]
    assert not resolver.satisfied(missing[0])
    # The vendor sink wrote BC vendor V00010 into ServiceNow as supplier sup1, and said so.
    xref.entries += [XrefEntry("sn", "vendor", "sup1", "V00010", "bc", "bcid", "V00010"),
                     _bc("vendor", "V00010")]  # fmt: skip
    assert resolver.satisfied(missing[0])
    resolved, missing = resolver.resolve(PI, _doc())
    assert (resolved["vendor_number"], missing) == ("V00010", [])


def test_explicit_mappings_win_over_what_was_learned() -> None:
    rules = MappingRules(vendors={"SUP1": "V20000"}, cost_centers={"cc200": "FACILITIES"},
                         accounts={"60100": "6110"})  # fmt: skip
    xref = FakeXref(XrefEntry("sn", "vendor", "sup1", "V00010", "bc", "x", "V00010"),
                    _bc("vendor", "V20000"), _bc("cost_center", "FACILITIES"),
                    _bc("gl_account", "6110"))  # fmt: skip
    resolved, missing = Resolver("sn", "bc", rules, xref, MASTERS).resolve(PI, _doc())
    assert missing == []
    assert resolved["vendor_number"] == "V20000"
    assert resolved["cost_center"] == "FACILITIES"
    assert resolved["lines"][0]["cost_center"] == "FACILITIES"
    assert resolved["lines"][0]["account_number"] == "6110"


def test_masters_the_target_does_not_send_are_left_to_the_target() -> None:
    resolver = Resolver("sn", "bc", MappingRules(), FakeXref(), frozenset())
    resolved, missing = resolver.resolve(PI, _doc(vendor_number="V00010", vendor_ref=None))
    assert missing == []
    assert resolved["vendor_number"] == "V00010"


def test_a_document_naming_no_vendor_at_all_is_not_parked() -> None:
    """Nothing could ever release it: the target refuses it with a reason instead."""
    resolver = Resolver("sn", "bc", MappingRules(), FakeXref(), MASTERS)
    resolved, missing = resolver.resolve(PI, _doc(vendor_ref=None, cost_center=None, lines=[]))
    assert (resolved["vendor_number"], missing) == ("", [])


def _settings(**flows: dict[str, Any]) -> Settings:
    return parse_settings({"connections": {"bc": BC, "sn": SN}, "flows": flows})


MASTERS_OUT = {"source": "bc", "target": "sn", "entities": ["vendor", "purchase_invoice"]}
DOCUMENTS_IN = {"source": "sn", "target": "bc", "entities": ["purchase_order", "purchase_invoice"]}


def test_documents_go_back_to_where_they_were_entered_as_their_status() -> None:
    s = _settings(out=MASTERS_OUT, into=DOCUMENTS_IN)
    assert returned_documents(s, "out") == {"purchase_invoice"}
    assert returned_documents(s, "into") == frozenset()  # these are created in bc
    # Only the flow creating documents resolves references; the status going back does not.
    assert set(resolvers(s, FakeXref())) == {("sn", "bc")}


def test_without_masters_from_the_same_side_documents_are_documents() -> None:
    alone = {"source": "bc", "target": "sn", "entities": ["purchase_invoice"]}
    s = _settings(out=alone, into=DOCUMENTS_IN)
    assert returned_documents(s, "out") == returned_documents(s, "into") == frozenset()
    only_out = _settings(out=MASTERS_OUT)
    assert returned_documents(only_out, "out") == frozenset()  # nothing came from sn
