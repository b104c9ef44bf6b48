from pathlib import Path

import pytest

from ml_connector.config import ConfigError, load_settings, parse_settings

BC = {
    "system": "business_central",
    "environment": "production",
    "auth": {
        "kind": "entra_client_credentials",
        "token_url": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
        "client_id": "app",
        "client_secret": {"secret": "bc"},
    },
}
SN = {
    "system": "servicenow",
    "instance_url": "https://dev.service-now.com",
    "auth": {"kind": "servicenow", "username": "u", "password": {"secret": "sn"}},
}


def test_valid_config_parses() -> None:
    s = parse_settings(
        {"connections": {"bc": BC, "sn": SN},
         "flows": {"f": {"source": "bc", "target": "sn", "entities": ["vendor"],
                         "poll_interval": "PT30S"}}}
    )  # fmt: skip
    assert s.flows["f"].poll_interval.total_seconds() == 30
    assert s.kafka.topics.change("bc", "vendor") == "mlc.bc.vendor"


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"kafka": {"partitions": 0}}, "kafka.partitions"),
        ({"kafka": {"bootstrap": "x"}}, "kafka.bootstrap: unknown key"),
        ({"kafka": {"producer": {"linger_ms": -1}}}, "kafka.producer.linger_ms"),
        ({"kafka": {"producer": {"compression": "brotli"}}}, "kafka.producer.compression"),
        # Delivery guarantees are not a tuning knob.
        ({"kafka": {"producer": {"acks": 1}}}, "kafka.producer.acks: unknown key"),
        (
            {"connections": {"bc": {**BC, "auth": {**BC["auth"], "client_id": None}}}},
            "connections.bc.auth.client_id",
        ),
        (
            {"connections": {"bc": {k: v for k, v in BC.items() if k != "environment"}}},
            "connections.bc.environment: required key is missing",
        ),
        ({"connections": {"bc": {**BC, "system": "sap"}}}, "connections.bc.system"),
        (
            {
                "connections": {"sn": SN},
                "flows": {"f": {"source": "nope", "target": "sn", "entities": ["vendor"]}},
            },
            "flows.f.source: no connection named 'nope'",
        ),
        ({"connections": {"sn": {**SN, "auth": {"kind": "servicenow"}}}}, "connections.sn.auth"),
    ],
)
def test_errors_name_the_key(data: dict, names: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        parse_settings(data)
    assert names in str(info.value)


def test_yaml_file_errors_name_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "mlc.yaml"
    path.write_text("kafka:\n  partitions: many\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value)
    assert "kafka.partitions" in str(info.value)


def test_config_never_holds_secret_values() -> None:
    bad = {**BC, "auth": {**BC["auth"], "client_secret": "hunter2"}}
    with pytest.raises(ConfigError) as info:
        parse_settings({"connections": {"bc": bad}})
    assert "connections.bc.auth.client_secret" in str(info.value)


NAV = {
    "system": "nav",
    "base_url": "https://nav.example:7048",
    "server_instance": "BC240",
    "auth": {"kind": "nav_basic", "username": "svc", "access_key": {"secret": "nav"}},
}
FO = {
    "system": "finance_operations",
    "base_url": "https://usmf.operations.dynamics.com",
    "auth": {
        "kind": "entra_client_credentials",
        "token_url": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
        "client_id": "app",
        "client_secret": {"secret": "fo"},
    },
}
ACUMATICA = {
    "system": "acumatica",
    "instance_url": "https://erp.example/AcumaticaERP",
    "version": "24.200.001",
    "auth": {"kind": "acumatica_login", "username": "admin", "password": {"secret": "acu"}},
}
SERVICETITAN = {
    "system": "servicetitan",
    "tenant_id": "123",
    "auth": {
        "kind": "servicetitan",
        "client_id": "cid",
        "client_secret": {"secret": "st"},
        "app_key": {"secret": "st-app"},
    },
}


def test_new_systems_parse_with_their_defaults() -> None:
    s = parse_settings(
        {"connections": {"nav": NAV, "fo": FO, "acu": ACUMATICA, "st": SERVICETITAN, "bc": BC}}
    )
    fo = s.connections["fo"]
    assert fo.auth.scope == "https://usmf.operations.dynamics.com/.default"  # type: ignore[union-attr]
    assert s.connections["st"].rate.requests == 60
    assert s.connections["bc"].rate.concurrency == 5
    assert s.connections["acu"].verify is True


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({**NAV, "auth": {**NAV["auth"], "kind": "ntlm"}}, "connections.c.auth.kind"),  # type: ignore[dict-item]
        ({k: v for k, v in NAV.items() if k != "server_instance"}, "connections.c.server_instance"),
        ({k: v for k, v in ACUMATICA.items() if k != "version"}, "connections.c.version: required"),
        (
            {**ACUMATICA, "auth": {"kind": "acumatica_oauth", "username": "u"}},
            "connections.c.auth.client_id: required",
        ),
        (
            {**SERVICETITAN, "auth": {**SERVICETITAN["auth"], "app_key": "plain"}},  # type: ignore[dict-item]
            "connections.c.auth.app_key",
        ),
        ({**SERVICETITAN, "page_size": 9000}, "connections.c.page_size"),
        ({**FO, "rate_limit": {"requests": 0}}, "connections.c.rate_limit.requests"),
        (
            {**SN, "auth": {**SN["auth"], "grant": "password"}},  # type: ignore[dict-item]
            "grant 'password' needs",
        ),
    ],
)
def test_new_connection_errors_name_the_key(data: dict, names: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        parse_settings({"connections": {"c": data}})
    assert names in str(info.value)


def test_containers_widen_the_metrics_listener_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mlc.yaml"
    path.write_text("metrics:\n  port: 9500\n")
    assert load_settings(path).metrics.listen_host == "127.0.0.1"  # loopback unless told
    monkeypatch.setenv("MLC_METRICS_LISTEN_HOST", "0.0.0.0")
    metrics = load_settings(path).metrics
    assert (metrics.listen_host, metrics.port) == ("0.0.0.0", 9500)


def test_containers_widen_the_webhook_receiver_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mlc.yaml"
    path.write_text("webhooks:\n  listen_port: 8099\n")
    assert load_settings(path).webhooks.listen_host == "127.0.0.1"
    monkeypatch.setenv("MLC_WEBHOOKS_LISTEN_HOST", "0.0.0.0")
    hooks = load_settings(path).webhooks
    assert (hooks.listen_host, hooks.listen_port) == ("0.0.0.0", 8099)
