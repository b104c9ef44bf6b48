from app.reconcile import business_key, compare


def test_compare_names_missing_different_and_extra() -> None:
    source = {
        "v1": {"number": "V1", "name": "Acme", "city": "Austin"},
        "v2": {"number": "V2", "name": "Beta", "city": None},
        "v3": {"number": "V3", "name": "Gamma", "city": "Boston"},
    }
    target = {
        "v1": {"name": "Acme", "city": "Austin"},
        "v2": {"name": "Beta", "city": "Denver"},  # source has no city: not a difference
        "v3": {"name": "Gamma Ltd", "city": "Boston"},
        "v9": {"name": "Stray", "city": ""},
    }
    report = compare("vendor", source, target)
    assert report.compared == 3
    assert report.missing == []
    assert report.different == {"v3": {"name": ("Gamma", "Gamma Ltd")}}
    assert report.extra == ["v9"]
    assert not report.clean
    gone = compare("vendor", source, {k: v for k, v in target.items() if k not in ("v1", "v9")})
    assert gone.missing == ["v1"] and gone.extra == []


def test_business_keys_fold_case_as_servicenow_coalescing_does() -> None:
    assert business_key("vendor", {"number": "V00010"}) == "v00010"
    assert business_key("cost_center", {"code": "CC100"}) == "cc100"


def test_a_pricebook_with_entries_of_its_own_reports_only_what_the_items_lack() -> None:
    from decimal import Decimal

    source = {
        "s-1001": {"number": "S-1001", "name": "AC tune-up", "unit_price": Decimal("129.00"),
                   "type": "Service", "blocked": False},
        "m-2001": {"number": "M-2001", "name": "Capacitor", "unit_price": Decimal("45.5"),
                   "unit_cost": Decimal("20"), "type": "Inventory", "blocked": True},
        "m-2002": {"number": "M-2002", "name": "Contactor", "unit_price": Decimal("60")},
    }  # fmt: skip
    target = {
        "s-1001": {"name": "AC tune-up", "unit_price": "129", "type": "Service",
                   "blocked": "false"},
        "m-2001": {"name": "Capacitor", "unit_price": "49.5", "unit_cost": "20",
                   "type": "Inventory", "blocked": "false"},
        "svc-001": {"name": "Entered in ServiceTitan", "unit_price": "89"},
    }  # fmt: skip
    report = compare("item", source, target, extras=False)
    assert report.missing == ["m-2002"]
    assert report.different == {"m-2001": {"unit_price": ("45.5", "49.5"),
                                           "blocked": ("true", "false")}}  # fmt: skip
    assert report.extra == []  # the pricebook's own entry is not the ERP's concern
    assert compare("item", source, target).extra == ["svc-001"]
