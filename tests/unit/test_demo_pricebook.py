"""The HVAC and plumbing catalogue the pricebook demo seeds in Business Central."""

from app.demo_pricebook import catalogue


def test_the_catalogue_is_a_contractors_pricebook() -> None:
    items = catalogue(60)
    assert len({i["number"] for i in items}) == 60
    kinds = [i["type"] for i in items]
    assert (kinds.count("Service"), kinds.count("Inventory"), kinds.count("Non-Inventory")) == (
        30, 22, 8)  # fmt: skip
    assert [i["number"] for i in items if i["blocked"]] == ["S-1025", "S-1050"]
    assert all(i["unitPrice"] > i["unitCost"] for i in items)
