"""The Grafana dashboard over the workers' metrics, built with grafana-foundation-sdk.

The panels are declared as data (title, unit, queries) and rendered by the SDK's builders, so
the committed JSON under ``deploy/grafana/dashboards/`` is an output, never edited by hand:
``python -m app.dashboard`` (or ``make dashboard``) writes it again, and a test fails when the
two differ. Queries use only the metrics ``ml_connector.metrics`` registers plus Prometheus'
own ``up``, and ``$__rate_interval`` as the one Grafana variable.

The SDK is a development dependency (the ``dashboards`` extra): nothing the workers run
imports this module.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "deploy" / "grafana" / "dashboards" / "ml-connector.json"
DATASOURCE_UID = "prometheus"  # the uid the provisioned datasource declares
JOB = "ml-connector"  # the scrape job of deploy/prometheus/prometheus.yml
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    stacked: bool = False


def _p95(metric: str, by: str) -> str:
    return f"histogram_quantile(0.95, sum by ({by}, le) (rate({metric}_bucket[{RATE}])))"


# Rows of charts, in the order an on-call engineer reads them: is it up and flowing, are the
# systems answering, is anything behind, are credentials and subscriptions about to lapse.
ROWS: tuple[tuple[str, tuple[Chart, ...]], ...] = (
    ("Flow", (
        Chart("Workers up", "1 when Prometheus reached the worker's listener", "short",
              (Query(f'up{{job="{JOB}"}}', "{{instance}}"),)),
        Chart("Loops coming round", "Seconds since each worker loop last came round (readiness "
              "fails past its allowance)", "s",
              (Query("time() - max by (loop) (mlc_loop_heartbeat_seconds)", "{{loop}}"),)),
        Chart("Records per stage", "Audited stage outcomes per second, by component and stage",
              "ops", (Query(f"sum by (component, stage) (rate(mlc_records_total[{RATE}]))",
                            "{{component}} {{stage}}"),), stacked=True),
        Chart("Retries and dead letters", "Records sent to a retry tier or the DLQ",
              "short", (Query('sum by (connection, entity, stage) (increase(mlc_records_total'
                              f'{{stage=~"retried|dead"}}[{RATE}]))',
                              "{{stage}} {{connection}} {{entity}}"),)),
    )),
    ("Systems", (
        Chart("API requests", "HTTP requests to the systems, by host, method and status",
              "reqps", (Query(f"sum by (host, method, status) (rate(mlc_api_requests_total"
                              f"[{RATE}]))", "{{host}} {{method}} {{status}}"),), stacked=True),
        Chart("API latency p95", "95th percentile of HTTP request time, by host", "s",
              (Query(_p95("mlc_api_request_seconds", "host"), "{{host}}"),)),
        Chart("429s and backpressure", "429 answers that paused a connection, and the seconds "
              "they paused it for", "short",
              (Query(f"sum by (host) (increase(mlc_api_throttled_total[{RATE}]))",
                     "429s {{host}}"),
               Query(f"sum by (host) (increase(mlc_api_throttled_seconds_total[{RATE}]))",
                     "seconds paused {{host}}"))),
        Chart("Paused workers", "1 while a worker waits out a peer refusing everything, and "
              "how often it paused", "short",
              (Query("max by (worker) (mlc_worker_paused)", "paused {{worker}}"),
               Query(f"sum by (worker) (increase(mlc_worker_backoffs_total[{RATE}]))",
                     "pauses {{worker}}"))),
    )),
    ("Latency and lag", (
        Chart("Write latency p95", "Time a target took to settle one record", "s",
              (Query(_p95("mlc_write_seconds", "target, entity"), "{{target}} {{entity}}"),)),
        Chart("End-to-end latency p95", "From the change in the source to the target's "
              "confirmation", "s",
              (Query(_p95("mlc_end_to_end_seconds", "target, entity"),
                     "{{target}} {{entity}}"),)),
        Chart("Consumer lag", "Records each consumer group has not committed past", "short",
              (Query("sum by (group) (mlc_consumer_lag)", "{{group}}"),)),
        Chart("Cursor age", "Age of the newest record each stream's polls have read", "s",
              (Query("max by (connection, entity) (mlc_cursor_age_seconds)",
                     "{{connection}} {{entity}}"),)),
        Chart("Poll task holders", "Producer instances holding each poll task: 1 when the "
              "group has settled, 0 while it moves", "short",
              (Query("sum by (flow, connection, entity) (mlc_producer_task_held)",
                     "{{flow}} {{connection}} {{entity}}"),)),
    )),
    ("Credentials and subscriptions", (
        Chart("Token refreshes", "Credentials obtained from a token or login endpoint",
              "short", (Query(f"sum by (connection, grant) (increase(mlc_token_refreshes_total"
                              f"[{RATE}]))", "{{connection}} {{grant}}"),)),
        Chart("Subscription time to expiry", "Seconds until each change subscription expires",
              "s", (Query("min by (connection, resource) (mlc_subscription_expiry_seconds)",
                          "{{connection}} {{resource}}"),)),
        Chart("Webhooks refused", "Webhook requests refused (bad signature or secret, or a "
              "body the receiver cannot read)", "short",
              (Query(f"sum by (connection, reason) (increase(mlc_webhooks_refused_total"
                     f"[{RATE}]))", "{{connection}} {{reason}}"),)),
    )),
)  # fmt: skip


def queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression a rendered dashboard asks Prometheus for."""
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def build() -> dict[str, Any]:
    from grafana_foundation_sdk.builders import common, dashboard, prometheus, timeseries
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.common import (
        LegendDisplayMode,
        LegendPlacement,
        StackingMode,
    )
    from grafana_foundation_sdk.models.dashboard import DataSourceRef

    source = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
    board = (
        dashboard.Dashboard("ml-connector")
        .uid("ml-connector")
        .description("Records, API calls, latency, lag and credentials of every worker")
        .tags(["ml-connector", "kafka"])
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .editable()
    )
    for row, charts in ROWS:
        board = board.with_row(dashboard.Row(row))
        for chart in charts:
            panel = (
                timeseries.Panel()
                .title(chart.title)
                .description(chart.description)
                .datasource(source)
                .unit(chart.unit)
                .height(8)
                .span(12 if len(charts) % 2 == 0 else 8)
                .fill_opacity(10)
                .legend(
                    common.VizLegendOptions()
                    .show_legend(True)
                    .display_mode(LegendDisplayMode.LIST)
                    .placement(LegendPlacement.BOTTOM)
                )
            )
            if chart.stacked:
                panel = panel.stacking(common.StackingConfig().mode(StackingMode.NORMAL))
            for ref, q in zip("ABCDEFGH", chart.queries, strict=False):
                panel = panel.with_target(
                    prometheus.Dataquery()
                    .expr(q.expr)
                    .legend_format(q.legend)
                    .ref_id(ref)
                    .datasource(source)
                )
            board = board.with_panel(panel)
    built: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(board.build()))
    return built


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write the dashboard's JSON (to the committed path, or the path given)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else OUTPUT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
