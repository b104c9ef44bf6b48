"""Command line entry point: ``ml-connector``."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand

from app import cli_ops
from app.cli_common import (
    JsonOption,
    can_listen,
    fail,
    kafka_bootstrap,
    print_json,
    problem,
    read_settings,
)

if TYPE_CHECKING:
    from simulators.simulator import Simulator

app = typer.Typer(
    no_args_is_help=True, help="Keeps ERPs and ServiceNow / ServiceTitan in agreement over Kafka."
)
kafka_app = typer.Typer(no_args_is_help=True, help="The Kafka broker for development and demos.")
secrets_app = typer.Typer(no_args_is_help=True, help="Credentials, encrypted at rest.")
config_app = typer.Typer(no_args_is_help=True, help="The configuration file.")
app.add_typer(kafka_app, name="kafka")
app.add_typer(secrets_app, name="secrets")
app.add_typer(config_app, name="config")


def _register_operations() -> None:
    app.add_typer(cli_ops.dlq_app, name="dlq")
    app.command("audit")(cli_ops.audit)
    app.command("replay")(cli_ops.replay)
    app.command("reconcile")(cli_ops.reconcile)
    app.command("ui")(cli_ops.ui)
    app.command("backfill")(cli_ops.backfill)


console = Console(stderr=True)
ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", envvar="MLC_CONFIG", help="YAML configuration file")
]


def _setup_logging(level: str = "info", component: str = "cli") -> None:
    from app import logs

    logs.setup(level, component=component)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"ml-connector {version('ml-connector')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    """Keeps ERPs and ServiceNow / ServiceTitan in agreement over Kafka."""


LogLevel = Annotated[
    str,
    typer.Option("--log-level", envvar="MLC_LOG_LEVEL", help="debug | info | warning | error"),
]


def _stop_on_signal() -> threading.Event:
    """Set by SIGINT or SIGTERM; installed before anything is announced, so a caller that
    stops us right after reading our output finds the handler already in place."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    return done


@kafka_app.command("up")
def kafka_up(
    with_registry: Annotated[
        bool, typer.Option("--registry/--no-registry", help="also start a Schema Registry")
    ] = True,
) -> None:
    """Start Kafka (configured, Docker, or embedded from Maven jars) and print its address.

    With --registry (the default) a Schema Registry is started beside it and its URL printed
    on the second line.
    """
    from devkit.runtime import acquire_kafka, acquire_registry

    _setup_logging()
    runtime = acquire_kafka(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    registry = acquire_registry(os.environ.get("SCHEMA_REGISTRY_URL")) if with_registry else None
    stop = _stop_on_signal()
    try:
        print(runtime.bootstrap_servers, flush=True)
        if registry is not None and registry.url:
            print(registry.url, flush=True)
        console.print(f"Kafka ({runtime.how}) at {runtime.bootstrap_servers}; Ctrl-C stops it")
        stop.wait()
    finally:
        if registry is not None:
            registry.close()
        runtime.close()


@config_app.command("schema")
def config_schema() -> None:
    """The configuration file's JSON Schema: every key, its type, default and description."""
    import json

    from ml_connector.config import Settings

    print(json.dumps(Settings.model_json_schema(), indent=2))


@config_app.command("reference")
def config_reference() -> None:
    """Every key of the configuration as Markdown (docs/configuration.md is this)."""
    from app.config_reference import render

    print(render(), end="")


@config_app.command("check")
def config_check(config: ConfigOption) -> None:
    """Validate the configuration file and name any key that is wrong: the schema, CA files,
    the secrets it names, and whether each flow's systems can carry its entities."""
    from app.config_check import problems

    settings = read_settings(config)
    found, notes = problems(settings)
    for note in notes:
        console.print(f"note: {note}")
    if found:
        raise fail(f"{config} is not ready:\n  " + "\n  ".join(found))
    console.print(
        f"{config}: valid ({len(settings.connections)} connections, {len(settings.flows)} flows)"
    )


@secrets_app.command("set")
def secrets_set(
    config: ConfigOption,
    name: str,
    value: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    """Store a secret encrypted (prompted, so it stays out of shell history)."""
    from ml_connector.secrets import SecretError, SecretStore

    try:
        SecretStore.from_config(read_settings(config).secrets).set(name, value)
    except SecretError as exc:
        raise fail(str(exc)) from None
    console.print(f"stored {name}")


@secrets_app.command("list")
def secrets_list(config: ConfigOption, as_json: JsonOption = False) -> None:
    """Names of the stored secrets (never their values)."""
    from ml_connector.secrets import SecretError, SecretStore

    try:
        store = SecretStore.from_config(read_settings(config).secrets)
        store.check_key()
        names = store.names()
    except SecretError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(names)
        return
    for name in names:
        print(name)


@secrets_app.command("new-key")
def secrets_new_key(
    key_file: Path,
    force: Annotated[
        bool, typer.Option("--force", help="replace an existing key (its secrets are lost)")
    ] = False,
) -> None:
    """Write a new encryption key to a file readable only by its owner."""
    from ml_connector.secrets import generate_key, write_private

    if key_file.exists() and not force:
        raise fail(
            f"{key_file} already holds a key; every secret stored with it would become "
            "unreadable. Use another file, or --force to replace it."
        )
    write_private(key_file, generate_key())
    console.print(f"wrote a new key to {key_file}")


@app.command("ping")
def ping(
    config: ConfigOption,
    connections: Annotated[
        list[str] | None, typer.Argument(help="connections to check; default: every one")
    ] = None,
    kafka: Annotated[bool, typer.Option(help="check Kafka and the schema registry too")] = True,
) -> None:
    """Reach each connection, get a token, make one cheap read and check the permissions its
    flows need; one line per check, with what to fix. Exits 1 when any check fails."""
    from app.ping import ping_all

    settings = read_settings(config)
    names = connections or list(settings.connections)
    unknown = [n for n in names if n not in settings.connections]
    if unknown:
        known = ", ".join(settings.connections) or "none"
        raise fail(f"no connection named {', '.join(unknown)} (known: {known})")
    results = ping_all(settings, names, kafka=kafka and not connections)
    for name, check in results:
        mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {name:<14} {check.check:<8} {check.detail}", highlight=False,
                      markup=True, soft_wrap=True)  # fmt: skip
        if not check.ok and check.fix:
            console.print(f"     {'':<14} {'':<8} fix: {check.fix}", highlight=False,
                          soft_wrap=True)  # fmt: skip
    if not all(c.ok for _, c in results):
        raise typer.Exit(1)


@app.command("status")
def status(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Per worker: up or down, and when last seen; per flow and entity: cursor and poll
    totals, then records routed, written, retried and dead and the last error its target
    gave; per consumer group: members and lag; per target: records waiting to retry and in
    the dead-letter topic; subscriptions. Exits 1 when Kafka cannot be read."""
    import json

    from rich.table import Table

    from app.status import status as read_status

    settings = read_settings(config)
    bootstrap = kafka_bootstrap(settings)
    try:
        found = read_status(settings, bootstrap)
    except Exception as exc:  # noqa: BLE001 - Kafka gone or refusing midway: say so, briefly
        raise problem(f"cannot read the status from Kafka at {bootstrap}: {exc}") from None
    if as_json:
        print(json.dumps(found.to_json(), indent=2))
        return
    out = Console()
    streams = Table("flow", "connection", "entity", "cursor", "polls", "read", "produced",
                    "last poll", "its result", "polled by")  # fmt: skip
    for s in found.streams:
        streams.add_row(s.flow, s.connection, s.entity, s.cursor or "-", str(s.polls),
                        str(s.records_read), str(s.events_produced), s.last_poll_at or "-",
                        "-" if s.last_poll_at is None else (s.last_error or "ok"),
                        s.polled_by or "-")  # fmt: skip
    sides = Table("flow", "entity", "target", "routed", "written", "retried", "dead",
                  "last written", "last sink error")  # fmt: skip
    for s in found.streams:
        sides.add_row(s.flow, s.entity, s.target, str(s.routed),
                      str(s.written), str(s.retried), str(s.dead), s.last_written_at or "-",
                      f"{s.last_sink_error_at} {s.last_sink_error}" if s.last_sink_error
                      else "-")  # fmt: skip
    workers = Table("worker", "process", "state", "last seen", "problems")
    for w in found.workers:
        ago = "never" if w.last_seen is None else f"{w.last_seen} ({w.seconds_since:.0f} s ago)"
        workers.add_row(w.component, w.worker or "-", w.state, ago, "; ".join(w.problems) or "-")
    groups = Table("consumer group", "members", "lag")
    for g in found.groups:
        groups.add_row(g.group, str(g.members), str(g.lag))
    targets = Table("target", "waiting to retry", "dead letters")
    for t in found.targets:
        targets.add_row(t.target, str(t.retry_waiting), str(t.dead))
    for table in (workers, streams, sides, groups, targets):
        out.print(table)
    for sub in found.subscriptions:
        out.print(f"subscription {sub['connection']}/{sub['entity_set']} until {sub['expires']}")
    if not found.audit_caught_up:
        out.print("note: the audit index is still catching up with the audit topic, so routed, "
                  "written, retried and dead are short; ask again to go on")  # fmt: skip


@app.command("systems")
def systems(as_json: JsonOption = False) -> None:
    """The systems the connector speaks to, and what each can do: what it reads as a source,
    how it notifies, what it writes as a target, whether it has a simulator."""
    from dataclasses import asdict

    from rich.table import Table

    from app.catalogue import capabilities

    if as_json:
        print_json([asdict(c) for c in capabilities()])
        return

    table = Table("system", "what it is", "reads (source)", "notifications", "writes (target)",
                  "simulator")  # fmt: skip
    for c in capabilities():
        table.add_row(c.system, c.title, ", ".join(c.reads) or "-", c.notifies_by or "-",
                      ", ".join(c.writes) or "-", "yes" if c.simulated else "-")  # fmt: skip
    Console().print(table)


@app.command("run")
def run(
    config: ConfigOption,
    component: Annotated[
        str | None,
        typer.Argument(help="producers | processors | sinks | audit | webhooks; all when omitted"),
    ] = None,
    once: Annotated[bool, typer.Option(help="producers: poll each stream once, then exit")] = False,
    log_level: LogLevel = "info",
) -> None:
    """Run the pipeline: one component, or all of them under a restarting supervisor."""
    from app import health, pipeline
    from app.config_check import problems
    from app.logs import LEVELS
    from app.supervisor import Supervisor
    from ml_connector.kafka.groups import consumer_groups
    from ml_connector.kafka.lag import LagSampler
    from ml_connector.presence import Announcer

    if log_level.lower() not in LEVELS:
        raise fail(f"--log-level {log_level!r}: expected one of {', '.join(LEVELS)}")
    if component is not None and component not in pipeline.RUNNERS:
        raise fail(
            f"unknown component {component!r}; expected one of {', '.join(pipeline.RUNNERS)}"
        )
    settings = read_settings(config)
    found, _ = problems(settings, strict=True)
    if found:  # refused before anything starts, rather than a crash loop under the supervisor
        raise fail(f"{config} is not ready:\n  " + "\n  ".join(found))
    _setup_logging(log_level, component or "supervisor")
    os.environ["MLC_LOG_LEVEL"] = log_level  # the supervisor's children log alike
    if component is None:
        Supervisor(config, pipeline.components(settings)).run_forever()
        return
    bootstrap = settings.kafka.bootstrap_servers
    if not bootstrap:
        raise fail("kafka.bootstrap_servers (or KAFKA_BOOTSTRAP_SERVERS) is required")
    m = settings.metrics
    if m.port is not None and component in health.OFFSETS:
        health.serve(m.listen_host, m.port + health.OFFSETS[component],
                     health.Readiness(bootstrap))  # fmt: skip
        groups = consumer_groups(settings).get(component)
        if groups:
            LagSampler(bootstrap, groups).start()
    if component == "processors":
        sys.argv = [sys.argv[0], "worker"]  # faust's worker reads its own command line
    topics = settings.kafka.topics
    # This worker, on the state topic every few seconds, for ``status`` to see.
    presence = None if once else Announcer(bootstrap, topics.state, component).start()
    try:
        if component == "producers":
            pipeline.run_producers(settings, bootstrap, once=once)
        else:
            pipeline.RUNNERS[component](settings, bootstrap)
    except pipeline.StartFailed as exc:
        # One line naming what to fix: Kafka refusing us, missing credentials, topics or
        # registry not as configured, or every poll failing. No traceback, no secret.
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        if presence is not None:
            presence.stop()


@app.command("demo")
def demo(
    flow: Annotated[
        str | None,
        typer.Option(
            help="the integration to show (bc-servicenow, acumatica-servicenow, servicetitan-bc); "
            "default: every one, in that order"
        ),
    ] = None,
    vendors: Annotated[
        int, typer.Option(help="vendors seeded in the ERP (ServiceTitan: 8 customers each)")
    ] = 300,
    documents: Annotated[
        int,
        typer.Option(
            help="purchase orders and AP invoices seeded (ServiceNow for BC, "
            "Acumatica for Acumatica); ServiceTitan: job invoices, half as many payments"
        ),
    ] = 3000,
    poll_interval: Annotated[float, typer.Option(help="seconds between polls")] = 60.0,
    keep_running: Annotated[
        bool, typer.Option(help="leave everything up after the summary")
    ] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the records")] = 600.0,
    workdir: Annotated[Path | None, typer.Option(help="keep config and logs here")] = None,
) -> None:
    """Run the embedded default: Kafka, simulators, every flow; print a summary and stop."""
    from app.demo import INTEGRATIONS, Scenario, run_demo

    if flow is not None and flow not in INTEGRATIONS:
        console.print(f"--flow: unknown integration {flow!r}; known: {', '.join(INTEGRATIONS)}")
        raise typer.Exit(2)
    from devkit.runtime import acquire_kafka, acquire_registry

    logging.basicConfig(level=logging.WARNING)
    # The summary has a column per flow and entity; below 130 columns it wraps its labels.
    out = Console(width=max(Console().width, 130))
    with console.status("starting Kafka and the Schema Registry (the first run fetches them)..."):
        runtime = acquire_kafka(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
        registry = acquire_registry(os.environ.get("SCHEMA_REGISTRY_URL"))
    out.print(f"Kafka ({runtime.how}) at {runtime.bootstrap_servers}")
    out.print(
        f"Schema Registry ({registry.how}) at {registry.url or 'none: single-object encoding'}"
    )
    try:
        ok = run_demo(
            bootstrap=runtime.bootstrap_servers, registry_url=registry.url,
            scenario=Scenario(vendors, documents, poll_interval),
            keep_running=keep_running, timeout=timeout, workdir=workdir, console=out,
            integrations=(flow,) if flow else INTEGRATIONS,
        )  # fmt: skip
    finally:
        registry.close()
        runtime.close()
    raise typer.Exit(0 if ok else 1)


def _registered() -> tuple[Simulator[Any], ...]:
    """The registered simulators, imported only now so that other commands never load them."""
    from simulators.registry import SIMULATORS

    return SIMULATORS


def _simulator_options(system: str, given: dict[str, Any]) -> tuple[Callable[[Any], Any], Any]:
    """(app factory, options) for ``system`` from the CLI values that were given (not None)."""
    try:
        registered = _registered()
    except ModuleNotFoundError as exc:
        raise fail(f"the {system} simulator is not available ({exc.name} is missing)") from None
    by_name = {s.name: s for s in registered}
    if system not in by_name:
        raise fail(f"unknown system {system!r}; expected one of {', '.join(by_name)}")
    simulator = by_name[system]
    special = {"latency_ms", "error_rate", "drop_rate", "webhook_url", "hmac_key"}
    values: dict[str, object] = {}
    for name, value in given.items():
        if value is None or name in special:
            continue
        if name not in simulator.cli_options:
            raise fail(f"--{name.replace('_', '-')} does not apply to the {system} simulator")
        values[simulator.cli_options[name]] = value
    hook_given = given["webhook_url"] is not None or given["hmac_key"] is not None
    if hook_given and (simulator.subscribe is None or given["webhook_url"] is None):
        takers = [s.name for s in registered if s.accepts_webhooks]
        which = f"the {' and '.join(takers)} simulator{'s' if len(takers) > 1 else ''}"
        raise fail(f"--webhook-url (and --hmac-key) apply to {which} only")
    faults = {k: given[k] for k in special - {"webhook_url", "hmac_key"} if given[k] is not None}
    try:
        if faults:
            from simulators.faults import FaultSettings

            values["faults"] = FaultSettings(**faults)
        if simulator.subscribe is not None and given["webhook_url"] is not None:
            values.update(simulator.subscribe(given["webhook_url"], given["hmac_key"]))
        return simulator.create_app, simulator.options(**values)
    except (TypeError, ValueError) as exc:
        raise fail(f"bad options for the {system} simulator: {exc}") from None


class _SimulateCommand(TyperCommand):
    """Lists the registered systems in the help of ``simulate``'s argument, read only when the
    help is shown: the shell imports no simulator until one is asked for."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        try:
            names = " | ".join(s.name for s in _registered())
        except ModuleNotFoundError:
            names = ""  # simulate itself says what is missing; the help still shows
        for param in self.params:
            if names and isinstance(param, TyperArgument) and param.name == "system":
                param.help = names
        super().format_help(ctx, formatter)


@app.command("simulate", cls=_SimulateCommand)
def simulate(
    system: Annotated[str, typer.Argument(help="the system to simulate")],
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    tls: Annotated[
        bool, typer.Option(help="serve HTTPS with a new self-signed certificate")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="seed of the generated data")] = None,
    vendors: Annotated[int | None, typer.Option(help="vendors (suppliers) to seed")] = None,
    customers: Annotated[int | None, typer.Option(help="customers to seed")] = None,
    items: Annotated[int | None, typer.Option(help="items to seed")] = None,
    purchase_orders: Annotated[int | None, typer.Option(help="purchase orders to seed")] = None,
    invoices: Annotated[int | None, typer.Option(help="AP invoices / bills to seed")] = None,
    client_id: Annotated[str | None, typer.Option(help="accepted OAuth client id")] = None,
    client_secret: Annotated[
        str | None, typer.Option(envvar="MLC_SIM_CLIENT_SECRET", help="accepted client secret")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", "--username", help="accepted user")] = None,
    password: Annotated[
        str | None, typer.Option(envvar="MLC_SIM_PASSWORD", help="accepted password")
    ] = None,
    access_key: Annotated[
        str | None, typer.Option(envvar="MLC_SIM_ACCESS_KEY", help="NAV web service access key")
    ] = None,
    app_key: Annotated[str | None, typer.Option(help="ServiceTitan ST-App-Key")] = None,
    webhook_url: Annotated[str | None, typer.Option(help="ServiceTitan webhook URL")] = None,
    hmac_key: Annotated[
        str | None, typer.Option(envvar="MLC_SIM_HMAC_KEY", help="ServiceTitan webhook HMAC key")
    ] = None,
    latency_ms: Annotated[float | None, typer.Option(help="added latency per call")] = None,
    error_rate: Annotated[float | None, typer.Option(help="share of calls answered 5xx")] = None,
    drop_rate: Annotated[float | None, typer.Option(help="share of calls dropped")] = None,
) -> None:
    """Serve a local simulator of one system's HTTP API (inspection under /_sim/)."""
    given = {k: v for k, v in locals().items() if k not in ("system", "port", "host", "tls")}
    name = system.replace("-", "_")
    create_app, options = _simulator_options(name, given)
    can_listen(host, port)
    from simulators.server import run as serve

    def ready(url: str, cert_path: str | None) -> None:
        # Plain echo, never wrapped: scripts read the URL and the certificate path from here.
        typer.echo(f"{name} simulator on {url} (inspection under /_sim/)", err=True)
        if cert_path:
            typer.echo(f"TLS certificate (trust it as the client's CA): {cert_path}", err=True)

    serve(create_app(options), host=host, port=port, tls=tls, on_ready=ready)


_register_operations()
