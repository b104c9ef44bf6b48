"""Kafka and registry credentials from the configuration: checked when the file is read, and
written out once for librdkafka, aiokafka and the registry client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ml_connector import kafka_security as security
from ml_connector.config import KafkaConfig
from ml_connector.kafka_security import AccessError, KafkaSecurity, RegistryAuth
from ml_connector.secrets import SecretStore, generate_key
from processors.credentials import faust_credentials

PLAIN = {"mechanism": "PLAIN", "username": "mlc", "password": {"secret": "kafka-pw"}}


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    s = SecretStore(tmp_path / "secrets.json", generate_key())
    s.set("kafka-pw", "s3cret-kafka")
    s.set("oidc-secret", "s3cret-oidc")
    s.set("registry-pw", "s3cret-registry")
    return s


def _kafka(**security_: Any) -> KafkaConfig:
    return KafkaConfig.model_validate({"security": security_})


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"protocol": "SASL_SSL"}, "kafka.security.sasl is required"),
        ({"protocol": "SSL", "sasl": {"mechanism": "PLAIN", "username": "u",
                                      "password": {"secret": "x"}}}, "needs protocol SASL_SSL"),
        ({"protocol": "SASL_SSL", "sasl": {"mechanism": "SCRAM-SHA-256", "username": "u"}},
         "kafka.security.sasl.password"),
        ({"protocol": "SASL_SSL", "sasl": {"mechanism": "OAUTHBEARER", "client_id": "c",
                                           "client_secret": {"env": "X"}}},
         "kafka.security.sasl.token_url"),
        ({"protocol": "SSL", "tls": {"cert_file": "c.pem"}}, "cert_file and key_file"),
        ({"protocol": "SASL_SSL", "sasl": {"mechanism": "GSSAPI"}}, "mechanism"),
        ({"protocol": "SASL_SSL", "sasl": {"mechanism": "PLAIN", "username": "u",
                                           "password": "in-the-clear"}}, "never the secret"),
    ],
)  # fmt: skip
def test_wrong_security_settings_name_the_key(given: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _kafka(**given)
    assert named in str(caught.value)


def test_scram_over_tls_for_librdkafka(store: SecretStore, tmp_path: Path) -> None:
    k = _kafka(
        protocol="SASL_SSL",
        tls={"ca_file": str(tmp_path / "ca.pem"), "verify_hostname": False},
        sasl={"mechanism": "SCRAM-SHA-512", "username": "mlc", "password": {"secret": "kafka-pw"}},
        properties={"client.rack": "eu-1", "security.protocol": "PLAINTEXT"},
    )
    props = security.librdkafka(k.security, store)
    assert props == {
        "client.rack": "eu-1",  # passed through
        "security.protocol": "SASL_SSL",  # the security settings win over the passthrough
        "ssl.ca.location": str(tmp_path / "ca.pem"),
        "ssl.endpoint.identification.algorithm": "none",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "mlc",
        "sasl.password": "s3cret-kafka",
    }


def test_mutual_tls_and_oauthbearer(store: SecretStore) -> None:
    k = _kafka(
        protocol="SASL_SSL",
        tls={"cert_file": "client.pem", "key_file": "client.key"},
        sasl={"mechanism": "OAUTHBEARER", "token_url": "https://idp/token", "client_id": "mlc",
              "client_secret": {"secret": "oidc-secret"}, "scope": "kafka"},
    )  # fmt: skip
    props = security.librdkafka(k.security, store)
    assert props["ssl.certificate.location"] == "client.pem"
    assert props["ssl.key.location"] == "client.key"
    assert props["sasl.oauthbearer.method"] == "oidc"
    assert props["sasl.oauthbearer.token.endpoint.url"] == "https://idp/token"
    assert props["sasl.oauthbearer.client.secret"] == "s3cret-oidc"
    assert props["sasl.oauthbearer.scope"] == "kafka"
    assert "sasl.username" not in props


def test_plaintext_adds_only_the_protocol(store: SecretStore) -> None:
    assert security.librdkafka(KafkaSecurity(), store) == {"security.protocol": "PLAINTEXT"}


def test_registry_basic_auth(store: SecretStore) -> None:
    auth = RegistryAuth(username="sr", password={"secret": "registry-pw"}, ca_file=Path("ca"))
    assert security.registry_conf(auth, store) == {
        "basic.auth.user.info": "sr:s3cret-registry",
        "ssl.ca.location": "ca",
    }


def test_configured_access_reaches_every_client_and_faust(store: SecretStore) -> None:
    k = _kafka(protocol="SASL_PLAINTEXT", sasl=PLAIN)
    security.configure(k.security, RegistryAuth(), lambda: store)
    try:
        from ml_connector.kafka.clients import _cluster

        assert _cluster("b:9092")["sasl.password"] == "s3cret-kafka"
        assert _cluster("b:9092")["bootstrap.servers"] == "b:9092"
        creds = faust_credentials()
        assert (creds.username, creds.password, creds.mechanism.value) == (
            "mlc", "s3cret-kafka", "PLAIN")  # fmt: skip
        assert creds.protocol.value == "SASL_PLAINTEXT"
    finally:
        security.reset()
    assert security.current().properties == {}
    assert faust_credentials() is None


def test_a_missing_secret_names_the_setting_and_not_the_value(tmp_path: Path) -> None:
    empty = SecretStore(tmp_path / "none.json", generate_key())
    k = _kafka(protocol="SASL_SSL", sasl=PLAIN)
    security.configure(k.security, RegistryAuth(), lambda: empty)
    try:
        with pytest.raises(AccessError) as caught:
            security.current()
    finally:
        security.reset()
    assert "kafka.security" in str(caught.value) and "kafka-pw" in str(caught.value)
