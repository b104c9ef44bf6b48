"""Simulators serve HTTPS with a generated certificate that clients trust through verify=."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from simulators import business_central
from simulators.server import serve_in_thread
from simulators.tls import self_signed
from tests.simulators.support import BC_TOKEN_FORM, BC_TOKEN_PATH


def test_certificate_covers_loopback_names(tmp_path: Path) -> None:
    files = self_signed(tmp_path)
    cert = x509.load_pem_x509_certificate(Path(files.cert_path).read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert Path(files.key_path).stat().st_mode & 0o077 == 0


def test_https_server_is_trusted_only_with_its_certificate() -> None:
    app = business_central.create_app(business_central.BusinessCentralOptions(vendor_count=1))
    served = serve_in_thread(app, tls=True)
    url, stop = served
    try:
        assert url.startswith("https://127.0.0.1:")
        assert served.cert_path is not None
        trust = ssl.create_default_context(cafile=served.cert_path)
        with httpx.Client(base_url=url, verify=trust) as client:
            response = client.post(BC_TOKEN_PATH, data=BC_TOKEN_FORM)
        assert response.status_code == 200
        with pytest.raises(httpx.ConnectError), httpx.Client(base_url=url) as untrusting:
            untrusting.post(BC_TOKEN_PATH, data=BC_TOKEN_FORM)
    finally:
        stop()
