"""F&O's OData actions over HTTPS, as data-entities/odata.md and the data management package
API document them: declared in ``$metadata`` as bound actions, invoked with a POST on
``/data/{EntitySet}/Microsoft.Dynamics.DataEntities.{Action}``, answering ``{"value": ...}``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest

from simulators import finance_operations
from simulators.finance_operations import FinanceOperationsOptions
from tests.simulators.support import fno_over_https

NS = "Microsoft.Dynamics.DataEntities"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@pytest.fixture(scope="module")
def fno() -> Iterator[httpx.Client]:
    options = FinanceOperationsOptions(application_version="10.0.41")
    with fno_over_https(finance_operations.create_app(options)) as client:
        yield client


def test_metadata_declares_each_action_with_its_binding_and_types(fno: httpx.Client) -> None:
    root = ET.fromstring(fno.get("/data/$metadata").content)
    schema = root.find(f".//{EDM}Schema")
    assert schema is not None
    actions = {a.get("Name"): a for a in schema.findall(f"{EDM}Action")}
    assert {"GetApplicationVersion", "GetExecutionSummaryStatus"} <= set(actions)
    status = actions["GetExecutionSummaryStatus"]
    assert status.get("IsBound") == "true"
    params = [(p.get("Name"), p.get("Type")) for p in status.findall(f"{EDM}Parameter")]
    binding = f"Collection({NS}.DataManagementDefinitionGroup)"
    assert params == [("DataManagementDefinitionGroup", binding), ("executionId", "Edm.String")]
    returns = status.find(f"{EDM}ReturnType")
    assert returns is not None and returns.get("Type") == "Edm.String"
    # Every type an action binds to is declared, so a validating client accepts the model.
    declared = {t.get("Name") for t in schema.findall(f"{EDM}EntityType")}
    assert {"DataManagementEntity", "DataManagementDefinitionGroup"} <= declared


def test_a_bound_action_answers_its_value(fno: httpx.Client) -> None:
    version = fno.post(f"/data/DataManagementEntities/{NS}.GetApplicationVersion", json={})
    assert version.status_code == 200, version.text
    assert version.json()["value"] == "10.0.41"
    assert version.json()["@odata.context"].endswith("/data/$metadata#Edm.String")
    # A parameterless action may be posted with no body, as the SDKs' proxies do.
    build = fno.post(f"/data/DataManagementEntities/{NS}.GetPlatformBuildVersion")
    assert build.status_code == 200 and build.json()["value"].startswith("7.0.")
    status = fno.post(
        f"/data/DataManagementDefinitionGroups/{NS}.GetExecutionSummaryStatus",
        json={"executionId": "no-such-run"},
    )
    assert status.status_code == 200, status.text
    assert status.json()["value"] == "Unknown"


@pytest.mark.parametrize(
    "path",
    [
        f"/data/DataManagementEntities/{NS}.NoSuchAction",
        # An action addressed on a set it is not bound to.
        f"/data/VendorsV2/{NS}.GetApplicationVersion",
        # Unqualified: F&O resolves actions only in its namespace.
        "/data/DataManagementEntities/GetApplicationVersion",
        # Bound to the set, not to an instance.
        f"/data/VendorsV2(dataAreaId='usmf',VendorAccountNumber='V1')/{NS}.GetApplicationVersion",
    ],
)
def test_an_action_the_service_does_not_define_there_is_a_404(fno: httpx.Client, path: str) -> None:
    answer = fno.post(path, json={})
    assert answer.status_code == 404, answer.text
    assert "No HTTP resource was found" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "executionId"),
        ({"executionId": "x", "extra": 1}, "extra"),
        ({"executionId": 42}, "executionId"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(
    fno: httpx.Client, body: dict[str, object], named: str
) -> None:
    answer = fno.post(
        f"/data/DataManagementDefinitionGroups/{NS}.GetExecutionSummaryStatus", json=body
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert named in error["innererror"]["message"]
    assert error["innererror"]["type"] == "Microsoft.OData.ODataException"


def test_actions_need_a_token_and_a_post(fno: httpx.Client) -> None:
    path = f"/data/DataManagementEntities/{NS}.GetApplicationVersion"
    assert fno.post(path, headers={"Authorization": ""}).status_code == 401
    wrong_verb = fno.get(path)
    assert wrong_verb.status_code == 405 and wrong_verb.headers["allow"] == "POST"
