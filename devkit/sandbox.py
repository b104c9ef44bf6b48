"""A local sandbox: simulators with seed data and a config pointing the pipeline at them.

The demo and the end-to-end tests both run the real pipeline (separate processes, real Kafka)
against this, so what the demo shows is what the tests prove.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devkit.java import free_port
from ml_connector.config import Settings, load_settings
from ml_connector.secrets import SecretStore, generate_key

BC_CLIENT = ("mlc-client", "mlc-secret")
SN_CLIENT = ("mlc-client", "mlc-secret")
SN_USER = ("mlc.integration", "mlc-password")
SN_PUSH_SECRET = "mlc-push-secret-sandbox"  # 16+ characters, as the receiver requires


@dataclass
class Sandbox:
    workdir: Path
    bootstrap: str
    registry_url: str | None = None
    vendors: int = 250
    seed: int = 42
    topic_prefix: str = "mlc"
    poll_interval: float = 5.0
    bc_page_size: int = 1000
    delivery: dict[str, Any] = field(default_factory=dict)
    entities: list[str] = field(default_factory=lambda: ["vendor"])
    webhooks: bool = False  # BC change notifications to a local receiver, beside polling
    sn_push: bool = False  # ServiceNow Business Rule pushes of invoices to that receiver
    receiver_port: int = 0
    metrics_port: int | None = None  # the workers' listeners; off unless a test asks
    bc_options: dict[str, Any] = field(default_factory=dict)  # more BusinessCentralOptions
    sn_options: dict[str, Any] = field(default_factory=dict)  # more ServiceNowOptions
    # More flows beside bc-servicenow, by name (source, target, entities ...); their
    # poll_interval and overlap default to the sandbox's.
    extra_flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    sn_purchase_orders: int = 5  # seeded ServiceNow purchase orders, with lines
    sn_invoices: int = 5  # seeded ServiceNow AP invoices (about a third approved)
    sn_connection: dict[str, Any] = field(default_factory=dict)  # more of connections.sn
    kafka_config: dict[str, Any] = field(default_factory=dict)  # more of kafka (security ...)
    extra_secrets: dict[str, str] = field(default_factory=dict)  # stored beside the systems'
    bc_url: str = ""
    sn_url: str = ""
    bc: Any = None  # the BC simulator app (its store is .state.sim)
    sn: Any = None
    config_path: Path = field(default_factory=Path)
    _stops: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def start(cls, bootstrap: str, workdir: Path | None = None, **options: Any) -> Sandbox:
        from simulators import business_central, servicenow
        from simulators.server import serve_in_thread

        box = cls(workdir or Path(tempfile.mkdtemp(prefix="mlc-sandbox-")), bootstrap, **options)
        box.receiver_port = free_port() if (box.webhooks or box.sn_push) else 0
        push = servicenow.PushRule(
            url=f"http://127.0.0.1:{box.receiver_port}/webhooks/servicenow/sn",
            tables=("sn_shop_invoice", "sn_shop_purchase_order"), secret=SN_PUSH_SECRET,
            retry_delays=(1, 2, 4),
        ) if box.sn_push else None  # fmt: skip
        box.bc = business_central.create_app(
            business_central.BusinessCentralOptions(
                seed=box.seed, vendor_count=box.vendors,
                client_id=BC_CLIENT[0], client_secret=BC_CLIENT[1], **box.bc_options,
            )
        )  # fmt: skip
        box.sn = servicenow.create_app(
            servicenow.ServiceNowOptions(
                client_id=SN_CLIENT[0], client_secret=SN_CLIENT[1],
                username=SN_USER[0], password=SN_USER[1],
                purchase_order_count=box.sn_purchase_orders, invoice_count=box.sn_invoices,
                push=push, **box.sn_options,
            )
        )  # fmt: skip
        box.bc_url, stop_bc = serve_in_thread(box.bc)
        box._stops.append(stop_bc)
        box.sn_url, stop_sn = serve_in_thread(box.sn)
        box._stops.append(stop_sn)
        box.config_path = box.write_config()
        return box

    @property
    def key_file(self) -> Path:
        return self.workdir / "secret.key"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.key_file.write_text(generate_key())
        self.key_file.chmod(0o600)
        config = {
            "kafka": {
                "bootstrap_servers": self.bootstrap,
                "schema_registry_url": self.registry_url,
                # Without a registry the sandbox says so, rather than failing to start.
                "encoding": "confluent" if self.registry_url else "single-object",
                "topic_prefix": self.topic_prefix,
                **self.kafka_config,
            },
            "metrics": {"port": self.metrics_port},
            "secrets": {
                "store": str(self.workdir / "secrets.json"),
                "key_file": str(self.key_file),
            },
            "audit": {"database": str(self.workdir / "audit.db")},
            "delivery": self.delivery,
            "webhooks": self._webhook_settings(),
            "connections": {
                "bc": {
                    "system": "business_central",
                    "base_url": self.bc_url,
                    "tenant": "sim-tenant",
                    "environment": "production",
                    "page_size": self.bc_page_size,
                    "webhooks": self.webhooks,
                    "auth": {
                        "kind": "entra_client_credentials",
                        "token_url": f"{self.bc_url}/sim-tenant/oauth2/v2.0/token",
                        "client_id": BC_CLIENT[0],
                        "client_secret": {"secret": "bc-client-secret"},
                    },
                },
                "sn": {
                    "system": "servicenow",
                    "instance_url": self.sn_url,
                    "auth": {
                        "kind": "servicenow",
                        "client_id": SN_CLIENT[0],
                        "client_secret": {"secret": "sn-client-secret"},
                        "username": SN_USER[0],
                        "password": {"secret": "sn-password"},
                    },
                    **({"push": {"secret": {"secret": "sn-push-secret"}}} if self.sn_push else {}),
                    **self.sn_connection,
                },
            },
            "flows": {
                "bc-servicenow": {
                    "source": "bc",
                    "target": "sn",
                    "entities": self.entities,
                    "poll_interval": self.poll_interval,
                    "overlap": 2.0,
                },
                **{
                    name: {"poll_interval": self.poll_interval, "overlap": 2.0, **flow}
                    for name, flow in self.extra_flows.items()
                },
            },
        }
        path = self.workdir / "ml-connector.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        settings = self.settings(path)
        store = SecretStore.from_config(settings.secrets)
        store.set("bc-client-secret", BC_CLIENT[1])
        store.set("sn-client-secret", SN_CLIENT[1])
        store.set("sn-password", SN_USER[1])
        store.set("sn-push-secret", SN_PUSH_SECRET)
        for name, value in self.extra_secrets.items():
            store.set(name, value)
        return path

    def _webhook_settings(self) -> dict[str, Any]:
        if not self.receiver_port:
            return {}
        port = self.receiver_port
        return {"listen_host": "127.0.0.1", "listen_port": port,
                "public_url": f"http://127.0.0.1:{port}", "check_interval": 2.0}  # fmt: skip

    def settings(self, path: Path | None = None) -> Settings:
        return load_settings(path or self.config_path)

    def stop(self) -> None:
        for stop in reversed(self._stops):
            stop()
        self._stops.clear()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
