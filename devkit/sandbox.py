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
ACU_USER = ("mlc.integration", "mlc-password")
ACU_CLIENT_SECRET = "mlc-secret"
ACU_VERSION = "24.200.001"
ACU_PUSH_SECRET = "mlc-acu-push-secret-sandbox"
ST_WEBHOOK_KEY = "mlc-servicetitan-webhook-key-sandbox-0001"  # 32 to 64 characters
# How ServiceTitan's GL accounts (and the sales tax) become the BC chart's, in the sandbox.
ST_ACCOUNTS = {"4000": "40200", "5000": "40100", "SALES-TAX": "20500"}


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
    producers: dict[str, Any] = field(default_factory=dict)  # the config's producers section
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
    # More connections by name, e.g. to a simulator started beside the sandbox.
    extra_connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    bc_flow: bool = True  # the bc-servicenow flow (off where a sandbox plays another ERP)
    # Entities of the acumatica-servicenow flow; any starts the Acumatica simulator too.
    acumatica_entities: list[str] = field(default_factory=list)
    acu_options: dict[str, Any] = field(default_factory=dict)  # more AcumaticaOptions
    acu_connection: dict[str, Any] = field(default_factory=dict)  # more of connections.acu
    acu_flow: dict[str, Any] = field(default_factory=dict)  # more of that flow
    acu_push: bool = False  # Acumatica push notifications of the flow's entities
    acu_push_sends: str = ACU_PUSH_SECRET  # the secret the instance sends (tests: a wrong one)
    # Entities of the servicetitan-bc flow; any starts the ServiceTitan simulator too.
    servicetitan_entities: list[str] = field(default_factory=list)
    st_options: dict[str, Any] = field(default_factory=dict)  # more ServiceTitanOptions
    st_flow: dict[str, Any] = field(default_factory=dict)  # more of that flow
    st_webhooks: bool = False  # ServiceTitan's signed invoice and payment webhooks
    st_signs_with: str = ST_WEBHOOK_KEY  # the key the app signs with (tests: a wrong one)
    bc_url: str = ""
    sn_url: str = ""
    acu_url: str = ""
    st_url: str = ""
    st: Any = None  # the ServiceTitan simulator app
    acu: Any = None
    bc: Any = None  # the BC simulator app (its store is .state.sim)
    sn: Any = None
    config_path: Path = field(default_factory=Path)
    _stops: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def start(cls, bootstrap: str, workdir: Path | None = None, **options: Any) -> Sandbox:
        from simulators import business_central, servicenow
        from simulators.server import serve_in_thread

        box = cls(workdir or Path(tempfile.mkdtemp(prefix="mlc-sandbox-")), bootstrap, **options)
        hooked = box.webhooks or box.sn_push or box.acu_push or box.st_webhooks
        box.receiver_port = free_port() if hooked else 0
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
                push=push, **{**box._sn_maps(), **box.sn_options},
            )
        )  # fmt: skip
        if box.acumatica_entities:
            box._start_acumatica()
        if box.servicetitan_entities:
            box._start_servicetitan()
        box.bc_url, stop_bc = serve_in_thread(box.bc)
        box._stops.append(stop_bc)
        box.sn_url, stop_sn = serve_in_thread(box.sn)
        box._stops.append(stop_sn)
        box.config_path = box.write_config()
        return box

    def _sn_maps(self) -> dict[str, Any]:
        """An instance for Acumatica: its documents name suppliers, which need Accounts
        Payable Operations, and its chart and cost centers are Acumatica's, none seeded."""
        from simulators.servicenow.maps import AP_OPERATIONS_MAPS

        if not self.acumatica_entities:
            return {}
        return {
            "transform_maps": AP_OPERATIONS_MAPS,
            "gl_accounts": (),
            "cost_centers": (),
            "supplier_count": 0,
        }

    def _start_acumatica(self) -> None:
        from simulators import acumatica
        from simulators.server import serve_in_thread

        options = {"seed": self.seed, "username": ACU_USER[0], "password": ACU_USER[1],
                   "client_secret": ACU_CLIENT_SECRET, **self._acu_pushes(),
                   **self.acu_options}  # fmt: skip
        self.acu = acumatica.create_app(acumatica.AcumaticaOptions(**options))
        self.acu_url, stop = serve_in_thread(self.acu)
        self._stops.append(stop)

    def _acu_pushes(self) -> dict[str, Any]:
        """One push notification per entity the flow reads, named as the entity."""
        if not self.acu_push:
            return {}
        from producers.acumatica import STREAMS
        from simulators.acumatica import PushNotification

        url = f"http://127.0.0.1:{self.receiver_port}/webhooks/acumatica/acu"
        pushes = tuple(PushNotification(STREAMS[e].path, STREAMS[e].path, url,
                                        header_value=self.acu_push_sends)
                       for e in self.acumatica_entities)  # fmt: skip
        return {"push_notifications": pushes, "push_retry_delays": (1, 2, 4, 8)}

    def _start_servicetitan(self) -> None:
        from simulators import servicetitan
        from simulators.server import serve_in_thread

        hooks = (servicetitan.WebhookSubscription(
            f"http://127.0.0.1:{self.receiver_port}/webhooks/servicetitan/st",
            hmac_key=self.st_signs_with),) if self.st_webhooks else ()  # fmt: skip
        options = {"seed": self.seed, "webhook_subscriptions": hooks,
                   "webhook_retry_delays": (1, 2, 4), **self.st_options}  # fmt: skip
        self.st = servicetitan.create_app(servicetitan.ServiceTitanOptions(**options))
        self.st_url, stop = serve_in_thread(self.st)
        self._stops.append(stop)

    def _servicetitan(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ServiceTitan connection and its flow into Business Central, if any."""
        if not self.servicetitan_entities:
            return {}, {}
        from simulators.servicetitan import ServiceTitanOptions

        defaults = ServiceTitanOptions()
        connection = {
            "system": "servicetitan",
            "api_url": self.st_url,
            "tenant_id": str(self.st_options.get("tenant_id", defaults.tenant_id)),
            "page_size": 200,
            "auth": {
                "kind": "servicetitan",
                "token_url": f"{self.st_url}/connect/token",
                "client_id": self.st_options.get("client_id", defaults.client_id),
                "client_secret": {"secret": "st-client-secret"},
                "app_key": {"secret": "st-app-key"},
            },
            **({"webhooks": {"hmac_key": {"secret": "st-webhook-key"}}} if self.st_webhooks
               else {}),
        }  # fmt: skip
        flow = {
            "source": "st",
            "target": "bc",
            "entities": self.servicetitan_entities,
            "poll_interval": self.poll_interval,
            "overlap": 2.0,
            "mappings": {"accounts": ST_ACCOUNTS},
            **self.st_flow,
        }
        return {"st": connection}, {"servicetitan-bc": flow}

    def _acumatica(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The Acumatica connection and its flow into ServiceNow, when the sandbox has one."""
        if not self.acumatica_entities:
            return {}, {}
        from simulators.acumatica import AcumaticaOptions

        defaults = AcumaticaOptions()
        tenant = self.acu_options.get("tenant", defaults.tenant)
        client = self.acu_options.get("client_id", defaults.client_id)
        connection = {
            "system": "acumatica",
            "instance_url": self.acu_url,
            "version": ACU_VERSION,
            "page_size": 100,
            "auth": {
                "kind": "acumatica_oauth",
                "client_id": f"{client}@{tenant}",
                "client_secret": {"secret": "acu-client-secret"},
                "username": ACU_USER[0],
                "password": {"secret": "acu-password"},
            },
            **({"push": {"secret": {"secret": "acu-push-secret"}}} if self.acu_push else {}),
            **self.acu_connection,
        }
        flow = {
            "source": "acu",
            "target": "sn",
            "entities": self.acumatica_entities,
            # Acumatica's own orders go whole, beside the requests coming back as orders.
            "returned": [],
            "poll_interval": self.poll_interval,
            "overlap": 2.0,
            **self.acu_flow,
        }
        return {"acu": connection}, {"acumatica-servicenow": flow}

    @property
    def key_file(self) -> Path:
        return self.workdir / "secret.key"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.key_file.write_text(generate_key())
        self.key_file.chmod(0o600)
        acu_connection, acu_flow = self._acumatica()
        st_connection, st_flow = self._servicetitan()
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
            "producers": self.producers,
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
                **acu_connection,
                **self.extra_connections,
                **st_connection,
            },
            "flows": {
                **(
                    {
                        "bc-servicenow": {
                            "source": "bc",
                            "target": "sn",
                            "entities": self.entities,
                            "poll_interval": self.poll_interval,
                            "overlap": 2.0,
                        }
                    }
                    if self.bc_flow
                    else {}
                ),
                **acu_flow,
                **st_flow,
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
        store.set("acu-client-secret", ACU_CLIENT_SECRET)
        store.set("acu-password", ACU_USER[1])
        store.set("acu-push-secret", ACU_PUSH_SECRET)
        from simulators.servicetitan import ServiceTitanOptions

        st_defaults = ServiceTitanOptions()
        store.set(
            "st-client-secret", self.st_options.get("client_secret", st_defaults.client_secret)
        )
        store.set("st-app-key", self.st_options.get("app_key", st_defaults.app_key))
        store.set("st-webhook-key", ST_WEBHOOK_KEY)
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
