"""Acumatica push notifications at the receiver: the shared-secret header checked on every
request, rows turned into hints, and the record read back from the instance."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from ml_connector.clients.acumatica import AcumaticaClient
from ml_connector.secrets import SecretStore
from producers.acumatica import AcumaticaSource
from producers.acumatica_push import AcumaticaPushNotifier
from producers.hint import Hint
from producers.receiver import receiver_app
from producers.shared_secret import SharedSecret
from simulators import acumatica
from tests.clients.conftest import Serve
from tests.clients.connections import acumatica_connection

SECRET = "a-shared-secret-of-some-length"
URL = "/webhooks/acumatica/acu"


@pytest.fixture
def receiver() -> tuple[TestClient, list[Hint]]:
    written: list[Hint] = []
    secret = SharedSecret("X-MLC-Push-Secret", SECRET)
    notifier = AcumaticaPushNotifier(secret, {"AP bills": "Bill"})
    return TestClient(receiver_app({("acumatica", "acu"): notifier}, written.extend)), written


def _body(query: str = "Bill", **rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Query": query, "CompanyId": "MLC", "Id": "x", "TimeStamp": 1, "AdditionalInfo": {},
            "Inserted": rows.get("Inserted", []), "Deleted": rows.get("Deleted", [])}  # fmt: skip


BILL = {"Type": "Bill", "ReferenceNbr": "000002", "Vendor": "V000001", "Amount": 10.0}


@pytest.mark.parametrize("headers", [{}, {"X-MLC-Push-Secret": "wrong"},
                                     {"X-MLC-Push-Secret": SECRET + "x"}])  # fmt: skip
def test_a_push_without_the_right_secret_is_refused(
    receiver: tuple[TestClient, list[Hint]], headers: dict[str, str]
) -> None:
    client, written = receiver
    answer = client.post(URL, json=_body(Inserted=[BILL]), headers=headers)
    assert answer.status_code == 401 and "X-MLC-Push-Secret" in answer.text
    assert SECRET not in answer.text and written == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [([], "expected a JSON object"), ({"Inserted": []}, "lacks Query"),
     (_body("Customers"), "Query 'Customers' watches no entity"),
     (_body(Inserted=[{"Type": "Bill"}]), "lacks ReferenceNbr"),
     ({**_body(), "Inserted": {"Type": "Bill"}}, "must be lists of rows")],
)  # fmt: skip
def test_a_malformed_push_gets_400_with_the_reason(
    receiver: tuple[TestClient, list[Hint]], body: Any, reason: str
) -> None:
    client, written = receiver
    answer = client.post(URL, json=body, headers={"X-MLC-Push-Secret": SECRET})
    assert answer.status_code == 400 and reason in answer.text, answer.text
    assert written == []


def test_an_update_becomes_one_hint_naming_the_record_by_its_keys(
    receiver: tuple[TestClient, list[Hint]],
) -> None:
    client, written = receiver
    headers = {"X-MLC-Push-Secret": SECRET}
    old = {**BILL, "Amount": 5.0}
    answer = client.post(URL, json=_body("AP bills", Inserted=[BILL], Deleted=[old]),
                         headers=headers)  # fmt: skip
    assert answer.status_code == 202
    [hint] = written
    assert (hint.entity_set, hint.change_type) == ("Bill", "updated")
    assert json.loads(hint.record_id or "") == {"Type": "Bill", "ReferenceNbr": "000002"}
    # A row only deleted names no record id to key a delete by: the poll has it.
    assert client.post(URL, json=_body(Deleted=[BILL]), headers=headers).status_code == 202
    assert len(written) == 1


async def test_the_source_reads_the_pushed_record_back_with_its_lines(
    serve: Serve, secrets: SecretStore
) -> None:
    url = serve(acumatica.create_app(acumatica.AcumaticaOptions()))
    source = AcumaticaSource(AcumaticaClient(acumatica_connection(url), secrets))
    keys = json.dumps({"Type": "Bill", "ReferenceNbr": "000002"})
    entity, [record] = await source.records_for(Hint("acu", "Bill", "updated", keys, "Bill", None))
    assert entity == "purchase_invoice" and record["ReferenceNbr"] == "000002"
    assert record["Details"] and source.streams[entity].to_canonical(record)["lines"]
    quoted = json.dumps({"Type": "Bill", "ReferenceNbr": "0' or Type eq 'Bill"})
    assert (await source.records_for(Hint("acu", "Bill", "updated", quoted, "Bill", None)))[1] == []
    await source.aclose()
