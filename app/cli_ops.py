"""Operator commands: the audit trail, the dead-letter topic, and replays."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli_common import (
    JsonOption,
    can_listen,
    fail,
    kafka_bootstrap,
    print_json,
    problem,
    read_settings,
)
from app.dlq import DeadFilter, DeadLetters
from app.offsets import Moved
from ml_connector.avro import AvroCodec
from ml_connector.config import Settings

dlq_app = typer.Typer(no_args_is_help=True, help="Dead-letter topics: list, show, redrive.")
out = Console()

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", envvar="MLC_CONFIG", help="YAML configuration file")
]


def _settings(path: Path) -> tuple[Settings, str]:
    """The configuration and the brokers, which have answered (exit 1 naming them if not)."""
    settings = read_settings(path)
    return settings, kafka_bootstrap(settings)


def _known_flow(settings: Settings, flow: str) -> None:
    if flow not in settings.flows:
        raise fail(f"no flow named {flow!r} (known: {', '.join(sorted(settings.flows))})")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().isoformat(timespec="milliseconds")


def audit(
    config: ConfigOption,
    connection: Annotated[str, typer.Argument(help="source connection, e.g. bc")],
    entity: Annotated[str, typer.Argument(help="canonical entity, e.g. vendor")],
    record_id: Annotated[str, typer.Argument(help="the source record's id")],
) -> None:
    """Print a record's full trail, from poll to target, after catching up the index."""
    from app.audit_index import AuditIndex

    settings, bootstrap = _settings(config)
    index = AuditIndex(settings.audit.database)
    topics = settings.kafka.topics
    index.sync(bootstrap, topics.audit, topics.audit_cli_group)
    rows = index.trail(connection, entity, record_id)
    if not rows:
        out.print(f"no audit records for {connection} {entity} {record_id}")
        raise typer.Exit(1)
    table = Table(title=f"{connection} {entity} {record_id}")
    for column in ("time", "stage", "component", "where", "detail"):
        table.add_column(column)
    for r in rows:
        where = f"{r.topic}[{r.partition}]@{r.offset}" if r.topic and r.offset is not None else (
            r.topic or "")  # fmt: skip
        detail = {k: v for k, v in r.detail.items() if k != "event" and v is not None}
        table.add_row(_when(r.ts_ms), r.stage, r.component, where,
                      json.dumps(detail, default=str))  # fmt: skip
    out.print(table)


def _dead_letters(settings: Settings, bootstrap: str, target: str) -> DeadLetters:
    topics = settings.kafka.topics
    return DeadLetters(bootstrap, topics.dlq(target), topics.state, target, topics.audit)


def _filter(
    entity: str | None, error_class: str | None, key: str | None,
    since: datetime | None, until: datetime | None, all_: bool = False,
) -> DeadFilter:  # fmt: skip
    aware = [d.astimezone() if d else None for d in (since, until)]
    return DeadFilter(entity, error_class, key, aware[0], aware[1], include_replayed=all_)


TargetArg = Annotated[str, typer.Argument(help="target connection, e.g. sn")]
FlowArg = Annotated[str, typer.Argument(help="flow name, e.g. bc-servicenow")]
EntityOpt = Annotated[str | None, typer.Option(help="only this entity")]
ClassOpt = Annotated[str | None, typer.Option("--error-class", help="only this error class")]
KeyOpt = Annotated[str | None, typer.Option(help="only this record key")]
SinceOpt = Annotated[datetime | None, typer.Option(help="failed at or after")]
UntilOpt = Annotated[datetime | None, typer.Option(help="failed at or before")]


@dlq_app.command("list")
def dlq_list(
    config: ConfigOption, target: TargetArg, entity: EntityOpt = None, error_class: ClassOpt = None,
    key: KeyOpt = None, since: SinceOpt = None, until: UntilOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="include records already redriven")] = False,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Dead records not yet redriven (all of them with --all)."""
    settings, bootstrap = _settings(config)
    dlq = _dead_letters(settings, bootstrap, target)
    if as_json:
        print_json(
            [
                {
                    "position": r.position,
                    "entity": r.entity,
                    "key": r.key,
                    "failed_at": r.failed_at.isoformat(),
                    "error_class": r.error_class,
                    "error": r.error,
                    "replays": r.replays,
                    "redriven": r.replayed,
                    "original_topic": r.original_topic,
                }
                for r in dlq.records(_filter(entity, error_class, key, since, until, all_))
            ]
        )
        return
    table = Table(title=f"dead letters of {target}")
    for column in ("position", "entity", "key", "failed at", "error class", "error", "replays",
                   "redriven"):  # fmt: skip
        table.add_column(column, overflow="fold")
    count = 0
    for r in dlq.records(_filter(entity, error_class, key, since, until, all_)):
        count += 1
        table.add_row(r.position, r.entity, r.key, r.failed_at.isoformat(timespec="seconds"),
                      r.error_class, r.error[:120], str(r.replays),
                      "yes" if r.replayed else "")  # fmt: skip
    out.print(table)
    out.print(f"{count} record(s)")


def _codec(settings: Settings, bootstrap: str) -> AvroCodec:
    from ml_connector.avro import MissingRegistry, codec_for

    try:
        return codec_for(settings.kafka, bootstrap)
    except MissingRegistry as exc:
        raise fail(str(exc)) from None


@dlq_app.command("show")
def dlq_show(
    config: ConfigOption, target: TargetArg,
    position: Annotated[str, typer.Argument(help="partition:offset in the DLQ, from `dlq list`")],
) -> None:  # fmt: skip
    """One dead record in full: headers (reason, origin, stack) and its decoded value."""
    partition, _, offset = position.partition(":")
    if not (partition.isdigit() and offset.isdigit()):
        raise fail(f"position {position!r}: expected PARTITION:OFFSET, e.g. 0:42 (`dlq list`)")
    settings, bootstrap = _settings(config)
    record = _dead_letters(settings, bootstrap, target).get(position)
    if record is None:
        out.print(f"no dead record at {position}")
        raise typer.Exit(1)
    out.print_json(json.dumps({"position": record.position, "key": record.key,
                               "redriven": record.replayed, "headers": record.info}))  # fmt: skip
    if record.message.value is not None:
        codec = _codec(settings, bootstrap)
        try:
            value = codec.decode(record.entity, record.message.value)
        except Exception as exc:  # noqa: BLE001 - show what is there even if it cannot be read
            out.print(f"value cannot be decoded ({exc}); {len(record.message.value)} bytes")
        else:
            out.print_json(json.dumps(value, default=str))


@dlq_app.command("replay")
def dlq_replay(
    config: ConfigOption, target: TargetArg, entity: EntityOpt = None, error_class: ClassOpt = None,
    key: KeyOpt = None, since: SinceOpt = None, until: UntilOpt = None,
    rate: Annotated[float, typer.Option(help="records per second at most")] = 50.0,
    force: Annotated[bool, typer.Option(help="redrive past delivery.max_replays too")] = False,
) -> None:  # fmt: skip
    """Redrive dead records to their original topic, throttled, with a loop guard."""
    from app.progress import counting

    settings, bootstrap = _settings(config)
    codec = _codec(settings, bootstrap)
    with counting(f"redriving the dead letters of {target}") as progress:
        done, refused = _dead_letters(settings, bootstrap, target).replay(
            _filter(entity, error_class, key, since, until), rate=rate,
            max_replays=settings.delivery.max_replays, force=force, codec=codec,
            on_record=progress.advance,
        )  # fmt: skip
    out.print(f"redriven: {len(done)}")
    if refused:
        out.print(f"refused: {len(refused)} already redriven {settings.delivery.max_replays} "
                  "times (fix the cause, then use --force)")  # fmt: skip
        raise typer.Exit(1)


def replay(
    config: ConfigOption,
    group: Annotated[str | None, typer.Option(help="consumer group to move (stopped)")] = None,
    topic: Annotated[list[str] | None, typer.Option(help="topics (default: the group's)")] = None,
    to_earliest: Annotated[bool, typer.Option("--to-earliest")] = False,
    to_datetime: Annotated[datetime | None, typer.Option("--to-datetime")] = None,
    to_offset: Annotated[int | None, typer.Option("--to-offset")] = None,
    record: Annotated[str | None, typer.Option(
        help="replay one record: CONNECTION:ENTITY:ID (its last sink event is sent again)")] = None,
    follow: Annotated[bool, typer.Option(
        help="then show the group re-reading the replay (start its consumers meanwhile) "
             "until it is back where it was")] = False,
) -> None:  # fmt: skip
    """Replay history: reset a stopped consumer group, or send one record again."""
    from app.offsets import GroupRunning, ReplayRefused, one_position, reset_group

    settings = read_settings(config)
    if record is not None:
        _replay_record(settings, _record_spec(record), record)
        return
    if group is None:
        raise fail("give --group (with --to-earliest, --to-datetime or --to-offset) or --record")
    try:
        one_position(to_earliest, to_datetime, to_offset)
    except ReplayRefused as exc:
        raise fail(str(exc)) from None
    bootstrap = kafka_bootstrap(settings)
    when = to_datetime.astimezone() if to_datetime else None
    try:
        moved = reset_group(bootstrap, group, topics=topic, to_earliest=to_earliest,
                            to_datetime=when, to_offset=to_offset)  # fmt: skip
    except GroupRunning as exc:  # the command was right; the group's state is the problem
        raise problem(str(exc)) from None
    except ReplayRefused as exc:
        raise fail(str(exc)) from None
    table = Table(title=f"group {group} moved")
    for column in ("topic", "partition", "from", "to"):
        table.add_column(column)
    for m in moved:
        table.add_row(m.topic, str(m.partition), "-" if m.before is None else str(m.before),
                      str(m.after))  # fmt: skip
    out.print(table)
    if follow:
        _follow(bootstrap, group, moved)


def _follow(bootstrap: str, group: str, moved: list[Moved]) -> None:
    from app.offsets import follow as follow_group
    from app.progress import counting

    total = sum(m.replayed for m in moved)
    out.print(f"{total} record(s) to re-read; start the consumers of {group} (Ctrl-C stops "
              "following, not the replay)")  # fmt: skip
    done = 0

    def shown(n: int) -> None:
        nonlocal done
        done = n
        progress.done(n)

    try:
        with counting(f"{group} re-reading", total=total) as progress:
            follow_group(bootstrap, group, moved, shown)
    except KeyboardInterrupt:
        out.print(f"stopped following: {done} of {total} re-read so far")
        return
    out.print(f"re-read: {done} of {total}")


def _record_spec(spec: str) -> tuple[str, str, str]:
    connection, _, rest = spec.partition(":")
    entity, _, record_id = rest.partition(":")
    if not (connection and entity and record_id):
        raise fail("--record takes CONNECTION:ENTITY:ID, e.g. bc:vendor:7f0c...")
    return connection, entity, record_id


def _replay_record(settings: Settings, which: tuple[str, str, str], spec: str) -> None:
    from app.audit_index import AuditIndex
    from app.replay_record import replay_record

    connection, entity, record_id = which
    bootstrap = kafka_bootstrap(settings)
    topics = settings.kafka.topics
    index = AuditIndex(settings.audit.database)
    index.sync(bootstrap, topics.audit, topics.audit_cli_group)
    where = replay_record(bootstrap, index, topics, connection, entity, record_id)
    if where is None:  # a well-formed question with no answer, as `audit` finding nothing
        raise problem(f"{spec}: no event of this record ever reached a sink topic")
    out.print(f"sent again to {where}")


def reconcile(
    config: ConfigOption,
    flow: FlowArg,
    show: Annotated[int, typer.Option(help="differences listed per kind and entity")] = 20,
) -> None:
    """Compare both systems of a flow entity by entity; exit 1 when they differ."""
    import asyncio

    from app.progress import counting
    from app.reconcile import ReadFailed
    from app.reconcile import reconcile as run_reconcile
    from app.reconcile_totals import dimension_totals, totals_table
    from ml_connector.secrets import SecretError, SecretStore

    settings = read_settings(config)  # it reads both systems' APIs, not Kafka
    _known_flow(settings, flow)

    secrets = SecretStore.from_config(settings.secrets)
    try:
        with counting(f"reading {flow}'s source") as progress:
            reports = asyncio.run(run_reconcile(
                settings, flow, secrets,
                on_page=lambda entity, n: progress.advance(n, f"reading {flow}'s {entity}"),
            ))  # fmt: skip
    except SecretError as exc:  # a credential not at hand: configuration
        raise fail(str(exc)) from None
    except ReadFailed as exc:
        raise problem(f"reconcile {flow}: {exc} (`ml-connector ping` checks each step)") from None
    table = Table(title=f"reconcile {flow}")
    for column in ("entity", "in source", "missing", "different", "extra"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for r in reports:
        table.add_row(r.entity, str(r.compared), str(len(r.missing)), str(len(r.different)),
                      str(len(r.extra)))  # fmt: skip
    out.print(table)
    for r in reports:
        for key in r.missing[:show]:
            out.print(f"missing   {r.entity} {key}: in the source, not in the target")
        for key, fields in list(r.different.items())[:show]:
            said = "; ".join(f"{f}: source {a!r} target {b!r}" for f, (a, b) in fields.items())
            out.print(f"different {r.entity} {key}: {said}")
        for key in r.extra[:show]:
            out.print(f"extra     {r.entity} {key}: in the target, not in the source")
    totals = asyncio.run(dimension_totals(settings, flow, secrets))
    if totals is not None:
        out.print(totals_table(flow, totals))
    if any(not r.clean for r in reports) or any(not t.clean for t in totals or []):
        raise typer.Exit(1)
    out.print("no differences")


def ui(
    config: ConfigOption,
    host: Annotated[str, typer.Option(help="address to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port of the page")] = 9410,
    every: Annotated[float, typer.Option(help="seconds between samples")] = 5.0,
) -> None:
    """A status page: flows and entities, with lag, throughput and dead letters over time."""
    import uvicorn

    from app.ui import History, ui_app

    settings = read_settings(config)
    can_listen(host, port)
    bootstrap = kafka_bootstrap(settings)
    history = History(settings, bootstrap, every=every).start()
    out.print(f"status page on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(ui_app(history), host=host, port=port, log_level="warning", access_log=False)


def backfill(
    config: ConfigOption,
    flow: FlowArg,
    entity: Annotated[str, typer.Argument(help="canonical entity, e.g. vendor")],
    since: Annotated[datetime, typer.Option(help="re-read records modified at or after this")],
) -> None:
    """Re-read an entity from a date through the normal path (change topic, processors,
    sinks), audited as ``backfill``; the processors drop what did not change."""
    from app.pipeline import backfill as run_backfill
    from app.progress import counting
    from ml_connector.api.errors import ApiError
    from ml_connector.secrets import SecretError

    settings = read_settings(config)
    _known_flow(settings, flow)
    if entity not in settings.flows[flow].entities:
        raise fail(f"flow {flow!r} has no entity {entity!r} "
                   f"(it moves: {', '.join(settings.flows[flow].entities)})")  # fmt: skip
    bootstrap = kafka_bootstrap(settings)  # after the usage checks: they need no broker
    try:
        with counting(f"backfilling {flow} {entity} since {since:%Y-%m-%d %H:%M}") as progress:
            produced = run_backfill(settings, bootstrap, flow, entity, since.astimezone(),
                                    on_page=progress.advance)  # fmt: skip
    except SecretError as exc:  # a credential not at hand: configuration
        raise fail(str(exc)) from None
    except ApiError as exc:  # a backfill reads the flow's source only
        source = settings.flows[flow].source
        raise problem(f"backfill {flow}: reading {entity} from {source}: {exc} "
                      "(`ml-connector ping` checks each step)") from None  # fmt: skip
    out.print(f"backfill: {produced} record(s) sent through {flow} again")
