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
