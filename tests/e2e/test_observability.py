"""Operating it: each worker's metrics agree with what the simulators hold, a real Prometheus
scraping the workers answers every query of the Grafana dashboard, and readiness follows Kafka.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import dashboard
from app.health import OFFSETS
from app.pipeline import components
from devkit.embedded import EmbeddedBroker
from devkit.java import free_ports
from devkit.prometheus import PrometheusServer

pytestmark = pytest.mark.kafka

VENDORS, POISONED = 60, 10


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test's own, since the test stops it."""
    broker = EmbeddedBroker().start()
    yield broker
    broker.stop()


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text)
            for s in f.samples]  # fmt: skip


def total(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(v for n, lab, v in samples
               if n == name and all(lab.get(k) == want for k, want in labels.items()))  # fmt: skip


def requests_by_method(samples: list[tuple[str, dict[str, str], float]]) -> Counter[str]:
    found: Counter[str] = Counter()
    for name, labels, value in samples:
        if name == "mlc_api_requests_total":
            found[labels["method"]] += int(value)
    return found


def served_by_method(system: httpx.Client) -> Counter[str]:
    """What a simulator answered, by method (its inspection routes are not counted)."""
    found: Counter[str] = Counter()
    for call in system.get("/_sim/calls").json()["calls"]:
        found[call["method"]] += call["count"]
    return found


def ready(url: str) -> tuple[int, list[str]]:
    r = httpx.get(f"{url}/readyz", timeout=10)
    return r.status_code, list(r.json()["problems"])


def test_metrics_agree_with_the_systems_and_every_dashboard_query_has_data(
    pipeline_factory: Callable[..., Any], own_broker: EmbeddedBroker
) -> None:
    base = free_ports(len(OFFSETS))
    p = pipeline_factory(
        broker=own_broker.bootstrap_servers, vendors=VENDORS, poll_interval=1.0,
        metrics_port=base, webhooks=True, bc_options={"notification_delay_seconds": 0.2},
        run=False,
    )  # fmt: skip
    workers = {c: f"http://127.0.0.1:{base + OFFSETS[c]}" for c in components(p.settings)}
    assert set(workers) == {"producers", "processors", "sinks", "audit", "webhooks"}
    # Vendors in a currency ServiceNow does not know: its transform map rejects them.
    for v in p.bc_vendors()[:POISONED]:
        r = p.bc.patch(f"/_sim/entities/vendors/{v['id']}", json={"currencyCode": "XTS"})
        assert r.status_code == 200, r.text
    targets = [u.removeprefix("http://") for u in workers.values()]
    with PrometheusServer(targets, job=dashboard.JOB, interval=1.0) as prometheus:
        p.supervisor.start()
        p.wait("the good vendors", lambda: len(p.sn_vendor_counts()) >= VENDORS - POISONED)
        p.wait("the dead letters", lambda: p.dead_letters() >= POISONED)
        p.wait("a vendors subscription", lambda: bool(p.bc.get("/_sim/subscriptions").json()[
            "subscriptions"]))  # fmt: skip
        p.settle()

        # Each worker's own counters against what landed in the simulators and topics.
        sinks, producers = scrape(workers["sinks"]), scrape(workers["producers"])
        processors = scrape(workers["processors"])
        in_sn = p.sn_vendor_counts()
        assert len(in_sn) == VENDORS - POISONED and set(in_sn.values()) == {1}
        assert total(sinks, "mlc_records_total", component="sinks", stage="written",
                     entity="vendor") == len(in_sn)  # fmt: skip
        assert total(sinks, "mlc_records_total", stage="dead") == p.dead_letters() == POISONED
        assert total(processors, "mlc_records_total", stage="routed", entity="vendor") == VENDORS
        assert total(producers, "mlc_records_total", stage="produced") >= VENDORS

        # Every request ServiceNow answered came from the sinks, and BC's from the pollers
        # and the subscription keeper: equal in a snapshot no request crossed (polls go on).
        def agree(system: httpx.Client, *components: str) -> bool:
            before = served_by_method(system)
            counted = sum((requests_by_method(scrape(workers[c])) for c in components),
                          Counter[str]())  # fmt: skip
            return before == counted == served_by_method(system)

        p.wait("ServiceNow's answers to match the sinks' count", lambda: agree(p.sn, "sinks"))
        p.wait("BC's answers to match the producers' and receiver's count",
               lambda: agree(p.bc, "producers", "webhooks"), timeout=60)  # fmt: skip
        # a write the target refused took its time too
        assert total(sinks, "mlc_write_seconds_count", target="sn") == len(in_sn) + POISONED
        assert total(sinks, "mlc_token_refreshes_total", connection="sn") >= 1
        assert total(producers, "mlc_token_refreshes_total", connection="bc") >= 1
        # The lag gauge is sampled every few seconds: it comes to what the group's offsets say.
        group = p.topics.sink_group("sn")
        # Its first sample may predate the topics (the sampler starts with the worker), and
        # the next comes up to EVERY_SECONDS later: wait for it rather than read it once.
        p.wait("the sinks' lag gauge", lambda: any(
            n == "mlc_consumer_lag" and lab["group"] == group
            for n, lab, _ in scrape(workers["sinks"])), timeout=60)  # fmt: skip

        def sink_lag() -> float:
            return total(scrape(workers["sinks"]), "mlc_consumer_lag", group=group)

        p.wait("the sinks' lag gauge at 0", lambda: sink_lag() == 0, timeout=60)
        [(_, _, left)] = [s for s in scrape(workers["webhooks"])
                          if s[0] == "mlc_subscription_expiry_seconds"]  # fmt: skip
        assert left > 3600  # BC subscriptions last days

        # A 429 storm while a change is written: the throttling is counted where it happened.
        assert p.sn.post("/_sim/faults/storm", json={"seconds": 3}).status_code == 200
        vendor = p.bc_vendors()[POISONED]
        r = p.bc.patch(f"/_sim/entities/vendors/{vendor['id']}", json={"displayName": "Renamed"})
        assert r.status_code == 200
        p.wait("the renamed vendor",
               lambda: p.sn_vendors()[vendor["number"]]["name"] == "Renamed")  # fmt: skip
        p.settle()
        assert total(scrape(workers["sinks"]), "mlc_api_throttled_total") >= 1

        # A notification from someone without the subscription's clientState: refused, counted.
        forged = {"value": [{"subscriptionId": "forged", "clientState": "wrong",
                             "changeType": "updated",
                             "resource": f"api/v2.0/companies({'0' * 8}-0000-0000-0000-{'0' * 12})"
                                         "/vendors"}]}  # fmt: skip
        refused = httpx.post(f"{p.settings.webhooks.public_url}/webhooks/business_central/bc",
                             json=forged, timeout=10)  # fmt: skip
        assert refused.status_code == 403
        assert total(scrape(workers["webhooks"]), "mlc_webhooks_refused_total",
                     reason="unauthenticated") == 1  # fmt: skip

        # Prometheus has scraped all of it: every query of the dashboard returns data.
        exprs = dashboard.queries(json.loads(dashboard.OUTPUT.read_text()))

        def empty() -> list[str]:
            return [e for e in exprs if not any(
                not math.isnan(float(s["value"][1]))
                for s in prometheus.query(e.replace(dashboard.RATE, "5m")))]  # fmt: skip

        p.wait("every dashboard query to return data", lambda: not empty(), timeout=60)
        up = prometheus.query(f'up{{job="{dashboard.JOB}"}}')
        assert {s["metric"]["instance"] for s in up if s["value"][1] == "1"} == set(targets)

        # Readiness: ready while Kafka answers, not ready (saying why) once it is gone, ready
        # again when it is back.
        assert {c: ready(u)[0] for c, u in workers.items()} == dict.fromkeys(workers, 200)
        own_broker.kill()
        p.wait("every worker not ready",
               lambda: all(ready(u)[0] == 503 and any("Kafka unreachable" in m
                                                      for m in ready(u)[1])
                           for u in workers.values()), timeout=90)  # fmt: skip
        own_broker.start()
        p.wait(
            "every worker ready again",
            lambda: all(ready(u)[0] == 200 for u in workers.values()),
            timeout=120,
        )
    # What the workers wrote to their log files is for files: no terminal escape codes.
    for log_file in (p.box.workdir / "logs").glob("*.log"):
        assert "\x1b[" not in log_file.read_text(errors="replace"), log_file.name
