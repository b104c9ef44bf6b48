"""The pipeline as users run it: separate worker processes on a real broker, simulators."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.demo import topic_size
from app.pipeline import components
from app.supervisor import Supervisor
from devkit.sandbox import Sandbox
from ml_connector.config import Settings
from ml_connector.kafka.admin import group_lag
from ml_connector.state import StateStore

STAGING = "sn_fcms_intg_imp_supplier"


@dataclass
class Pipeline:
    box: Sandbox
    settings: Settings
    supervisor: Supervisor
    bc: httpx.Client
    sn: httpx.Client

    @property
    def topics(self) -> Any:
        return self.settings.kafka.topics

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float = 240) -> None:
        """Poll ``predicate`` while the supervisor restarts anything that died."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            self.supervisor.check()
            try:
                if predicate():
                    return
            except Exception as exc:  # noqa: BLE001 - e.g. a leader moving; ask again
                last_error = exc
            time.sleep(0.5)
        logs = "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted((self.box.workdir / "logs").glob("*.log"))
        )
        raise AssertionError(f"timed out waiting for {what} (last error: {last_error})\n{logs}")

    # -- what the systems hold ---------------------------------------------------------
    def bc_rows(self, entity_set: str) -> list[dict[str, Any]]:
        return list(self.bc.get(f"/_sim/entities/{entity_set}").json()["value"])

    def bc_vendors(self) -> list[dict[str, Any]]:
        return self.bc_rows("vendors")

    def posted_invoices(self) -> Counter[str]:
        """BC purchase invoices posted (status Open), by the ServiceNow number they carry."""
        return Counter(i["vendorInvoiceNumber"] for i in self.bc_rows("purchaseInvoices")
                       if i["status"] == "Open")  # fmt: skip

    def sn_rows(self, table: str) -> list[dict[str, str]]:
        return list(self.sn.get(f"/_sim/tables/{table}").json()["result"])

    def sn_approved(self, table: str) -> set[str]:
        """Numbers of the approved documents in a ServiceNow table: what must reach BC."""
        return {r["number"] for r in self.sn_rows(table) if r["approval"] == "approved"}

    def sn_vendor_counts(self) -> Counter[str]:
        body = self.sn.get("/_sim/tables/core_company/counts").json()
        return Counter(body["counts"])

    def sn_vendors(self) -> dict[str, dict[str, str]]:
        rows = self.sn.get("/_sim/tables/core_company").json()["result"]
        return {r["u_vendor_number"]: r for r in rows if r.get("u_vendor_number")}

    def import_states(self) -> Counter[str]:
        rows = self.sn.get(f"/_sim/tables/{STAGING}").json()["result"]
        return Counter(r["sys_import_state"] for r in rows)

    def imported_rows(self) -> int:
        """Vendor rows sent to ServiceNow, one at a time or in insertMultiple batches: each
        leaves one staging row."""
        return len(self.sn.get(f"/_sim/tables/{STAGING}").json()["result"])

    # -- where the pipeline is ---------------------------------------------------------
    def polls(self) -> int:
        state = StateStore(self.box.bootstrap, self.topics.state).load("cursor|bc|vendor") or {}
        return int(state.get("totals", {}).get("polls", 0))

    def lag(self) -> int:
        change = [self.topics.change("bc", "vendor")]
        sink = [self.topics.sink("sn", "vendor")]
        return group_lag(self.box.bootstrap, self.topics.processor_app(), change) + group_lag(
            self.box.bootstrap, self.topics.sink_group("sn"), sink
        )

    def settle(self, polls: int = 2) -> None:
        """Wait until ``polls`` more polls happened and every group caught up."""
        target = self.polls() + polls
        self.wait(
            f"{polls} more polls and no lag", lambda: self.polls() >= target and self.lag() == 0
        )

    def audit_trail(self, record_id: str, entity: str = "vendor", source: str = "bc") -> list[Any]:
        from app.audit_index import AuditIndex

        index = AuditIndex(self.settings.audit.database)  # the one the CLI catches up
        index.sync(self.box.bootstrap, self.topics.audit, self.topics.audit_cli_group)
        return index.trail(source, entity, record_id)

    def retried_to(self, tier: str) -> int:
        return topic_size(self.box.bootstrap, self.topics.retry("sn", tier))

    def set_faults(self, **settings: Any) -> None:
        r = self.sn.put("/_sim/faults", json=settings)
        assert r.status_code == 200, r.text

    def cli(self, *args: str) -> Any:
        """The operator's command, against this pipeline's config."""
        from typer.testing import CliRunner

        from app.cli import app

        command, *rest = args
        sub = [command, rest.pop(0)] if command == "dlq" else [command]
        return CliRunner().invoke(app, [*sub, "-c", str(self.box.config_path), *rest],
                                  env={"COLUMNS": "200"})  # fmt: skip

    def dead_letters(self) -> int:
        return self.dlq_size("sn")

    def dlq_size(self, target: str) -> int:
        """Records ever dead-lettered for ``target`` (redriven ones stay in the log)."""
        return topic_size(self.box.bootstrap, self.topics.dlq(target))


def vendors_cross_a_secured_cluster(p: Pipeline, vendors: int, secret: str) -> None:
    """Run ``p`` (started with ``run=False``) on a cluster that asks for credentials: every
    vendor lands in ServiceNow once, nothing is dead-lettered, no log shows ``secret``.

    The harness and the supervisor's watchdog in this process reach Kafka as the workers do,
    so a worker stuck on the secured cluster is seen and restarted. Producers (confluent-kafka),
    processors (Faust on aiokafka) and sinks all had to authenticate for a vendor to cross
    from Business Central to ServiceNow.
    """
    from ml_connector import kafka_security as security
    from ml_connector.secrets import SecretStore

    security.configure(p.settings.kafka.security, p.settings.kafka.registry_auth,
                       lambda: SecretStore.from_config(p.settings.secrets))  # fmt: skip
    p.supervisor.start()
    p.wait("all vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= vendors)
    assert set(p.sn_vendor_counts().values()) == {1}
    p.settle()
    assert p.dead_letters() == 0
    logs = "".join(f.read_text(errors="replace") for f in (p.box.workdir / "logs").glob("*"))
    assert secret not in logs


@pytest.fixture
def pipeline_factory(
    bootstrap: str, registry_url: str, tmp_path: Path
) -> Iterator[Callable[..., Pipeline]]:
    started: list[Pipeline] = []

    def start(*, run: bool = True, broker: str | None = None, **options: Any) -> Pipeline:
        """Simulators, config and supervisor; ``run=False`` leaves the workers to the test."""
        prefix = f"t{uuid.uuid4().hex[:8]}"
        options.setdefault("registry_url", registry_url)
        box = Sandbox.start(broker or bootstrap, tmp_path / prefix, topic_prefix=prefix, **options)
        supervisor = Supervisor(
            box.config_path,
            components(box.settings()),
            log_dir=box.workdir / "logs",
            stall_after=30.0,
        )
        if run:
            supervisor.start()
        p = Pipeline(box, box.settings(), supervisor, httpx.Client(base_url=box.bc_url, timeout=30),
                     httpx.Client(base_url=box.sn_url, timeout=30))  # fmt: skip
        started.append(p)
        return p

    yield start
    for p in started:
        p.supervisor.stop()
        p.box.stop()
        p.bc.close()
        p.sn.close()
