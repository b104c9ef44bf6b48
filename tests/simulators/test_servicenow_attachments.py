"""ServiceNow Attachment API over HTTPS on a real socket, as the REST API reference documents it.

Requests and answers follow "Attachment API" (POST /now/attachment/file, GET /now/attachment,
GET /now/attachment/{sys_id}, GET /now/attachment/{sys_id}/file, DELETE
/now/attachment/{sys_id}); the client gets its token through Authlib (client_secret_basic).
"""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from starlette.applications import Starlette

from simulators.server import Served, serve_in_thread
from simulators.servicenow import ServiceNowOptions, create_app
from simulators.servicenow.options import DEFAULT_ROLES
from simulators.servicenow.store import ServiceNowStore

ROOT = "/api/now/v1/attachment"
PDF = b"%PDF-1.4\n% an invoice scan\n" + bytes(range(256)) * 4


@pytest.fixture
def app() -> Starlette:
    roles = (*DEFAULT_ROLES, "sn_ap_apm.reader")
    return create_app(ServiceNowOptions(user_roles=roles, attachment_max_bytes=4096))


@pytest.fixture
def served(app: Starlette) -> Iterator[Served]:
    served = serve_in_thread(app, tls=True)
    yield served
    served.stop()


@pytest.fixture
def client(served: Served) -> Iterator[OAuth2Client]:
    assert served.cert_path is not None
    with OAuth2Client(
        "mlc-client",
        "mlc-secret",
        token_endpoint_auth_method="client_secret_basic",
        base_url=served.url,
        verify=ssl.create_default_context(cafile=served.cert_path),
    ) as oauth:
        oauth.fetch_token(f"{served.url}/oauth_token.do", grant_type="client_credentials")
        yield oauth


def _store(app: Starlette) -> ServiceNowStore:
    store = app.state.sim
    assert isinstance(store, ServiceNowStore)
    return store


def _invoice(app: Starlette) -> str:
    return next(iter(_store(app).tables["sn_shop_invoice"].records))


def _upload(client: httpx.Client, sys_id: str, **params: str) -> httpx.Response:
    query = {"table_name": "sn_shop_invoice", "table_sys_id": sys_id, "file_name": "scan.pdf"}
    return client.post(
        f"{ROOT}/file",
        params={**query, **params},
        content=PDF,
        headers={"Content-Type": "application/pdf", "Accept": "application/json"},
    )


def _drop_role(app: Starlette, role_name: str) -> None:
    """Deactivate one of the integration user's roles (roles are read per request)."""
    store = _store(app)
    roles = {s for s, r in store.tables["sys_user_role"].records.items() if r["name"] == role_name}
    for sys_id, row in list(store.tables["sys_user_has_role"].records.items()):
        if row["role"] in roles:
            store.update("sys_user_has_role", sys_id, {"state": "inactive"}, "admin")


def test_upload_describe_download_list_and_delete(app: Starlette, client: OAuth2Client) -> None:
    invoice = _invoice(app)
    created = _upload(client, invoice)
    assert created.status_code == 201, created.text
    meta: dict[str, Any] = created.json()["result"]
    sys_id = meta["sys_id"]
    assert created.headers["location"].endswith(f"/api/now/attachment/{sys_id}")
    assert meta["download_link"] == f"{created.headers['location']}/file"
    assert {k: meta[k] for k in ("table_name", "table_sys_id", "file_name", "content_type")} == {
        "table_name": "sn_shop_invoice",
        "table_sys_id": invoice,
        "file_name": "scan.pdf",
        "content_type": "application/pdf",
    }
    assert meta["size_bytes"] == str(len(PDF))
    assert meta["hash"] == hashlib.sha256(PDF).hexdigest()
    assert all(isinstance(v, str) for v in meta.values())

    described = client.get(f"{ROOT}/{sys_id}")
    assert described.status_code == 200
    assert described.json()["result"] == meta

    # The documented default (unversioned) root serves the same file.
    download = client.get(f"/api/now/attachment/{sys_id}/file", headers={"Accept": "*/*"})
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert json.loads(download.headers["x-attachment-metadata"])["file_name"] == "scan.pdf"

    listed = client.get(ROOT, params={"sysparm_query": f"table_sys_id={invoice}"})
    assert listed.status_code == 200
    assert [r["sys_id"] for r in listed.json()["result"]] == [sys_id]
    assert listed.headers["x-total-count"] == "1"

    assert client.delete(f"{ROOT}/{sys_id}").status_code == 204
    assert client.get(f"{ROOT}/{sys_id}").status_code == 404
    assert client.get(f"{ROOT}/{sys_id}/file").status_code == 404
    assert client.delete(f"{ROOT}/{sys_id}").status_code == 404


def test_list_pages_with_link_header_and_refuses_unknown_operators(
    app: Starlette, client: OAuth2Client
) -> None:
    invoice = _invoice(app)
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        assert _upload(client, invoice, file_name=name).status_code == 201
    first = client.get(ROOT, params={"sysparm_query": "ORDERBYfile_name", "sysparm_limit": "2"})
    assert [r["file_name"] for r in first.json()["result"]] == ["a.pdf", "b.pdf"]
    assert first.headers["x-total-count"] == "3"
    assert 'rel="next"' in first.headers["link"]
    unknown = client.get(ROOT, params={"sysparm_query": "file_nameSAMEAScontent_type"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == "Invalid query"


@pytest.mark.parametrize("blank", ["table_name", "table_sys_id", "file_name"])
def test_a_missing_parameter_is_400(app: Starlette, client: OAuth2Client, blank: str) -> None:
    response = _upload(client, _invoice(app), **{blank: ""})
    assert response.status_code == 400
    assert blank in response.json()["error"]["detail"]


def test_bad_uploads_are_refused_without_storing_anything(
    app: Starlette, client: OAuth2Client
) -> None:
    invoice = _invoice(app)
    query = {"table_name": "sn_shop_invoice", "table_sys_id": invoice, "file_name": "x.bin"}
    untyped = client.post(f"{ROOT}/file", params=query, content=PDF)
    typed = {"Content-Type": "application/octet-stream"}
    empty = client.post(f"{ROOT}/file", params=query, content=b"", headers=typed)
    too_large = client.post(f"{ROOT}/file", params=query, content=b"x" * 4097, headers=typed)
    long_name = _upload(client, invoice, file_name="n" * 256)
    control = _upload(client, invoice, file_name="a\nb.pdf")
    encrypted = _upload(client, invoice, encryption_context="0" * 32)
    for response in (untyped, empty, too_large, long_name, control, encrypted):
        assert response.status_code == 400, response.text
        assert response.json()["status"] == "failure"
    no_record = _upload(client, "0" * 32)
    no_table = _upload(client, invoice, table_name="u_no_such_table")
    assert no_record.status_code == 404
    assert no_table.status_code == 404
    assert not _store(app).tables["sys_attachment"].records
    assert _upload(client, invoice, file_name="exact.bin").status_code == 201


def test_access_follows_the_record_the_file_is_on(app: Starlette, client: OAuth2Client) -> None:
    invoice = _invoice(app)
    sys_id = _upload(client, invoice).json()["result"]["sys_id"]
    _drop_role(app, "sn_ap_apm.accounts_payable_specialist")
    # A reader of AP invoices sees their files but may neither add nor remove one.
    assert client.get(f"{ROOT}/{sys_id}").status_code == 200
    assert client.delete(f"{ROOT}/{sys_id}").status_code == 403
    assert _upload(client, invoice).status_code == 403
    _drop_role(app, "sn_ap_apm.reader")
    # Without read access the file and its record do not exist for the caller.
    assert client.get(f"{ROOT}/{sys_id}").status_code == 404
    assert client.get(f"{ROOT}/{sys_id}/file").status_code == 404
    assert client.get(ROOT).json()["result"] == []
    assert _upload(client, invoice).status_code == 404


def test_anonymous_calls_are_401(served: Served) -> None:
    assert served.cert_path is not None
    trust = ssl.create_default_context(cafile=served.cert_path)
    with httpx.Client(base_url=served.url, verify=trust) as anonymous:
        assert anonymous.get(ROOT).status_code == 401
