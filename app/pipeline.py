"""The three kinds of worker process, each runnable alone or under the supervisor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from confluent_kafka import KafkaException

from ml_connector.api.errors import FatalError
from ml_connector.avro import AvroCodec, MissingRegistry, codec_for
from ml_connector.config import Settings
from ml_connector.context import acting_for
from ml_connector.kafka.admin import ensure_topics, pipeline_topics, topic_differences
from ml_connector.kafka.clients import KafkaUnreachable, cluster_metadata, consumer, producer
from ml_connector.kafka.tasks import TasksNotPlaced
from ml_connector.kafka_security import AccessError
from ml_connector.secrets import SecretStore
from ml_connector.state import StateStore

log = logging.getLogger(__name__)

COMPONENTS = ("producers", "processors", "sinks", "audit")


def components(settings: Settings) -> tuple[str, ...]:
    """The workers this configuration needs: a webhook receiver only where one is used."""
    return (*COMPONENTS, "webhooks") if settings.webhook_connections() else COMPONENTS


def prepare(settings: Settings, bootstrap: str) -> AvroCodec:
    k = settings.kafka
    cluster_metadata(bootstrap)  # refused credentials end the start-up here, named
    specs = pipeline_topics(settings)
    if k.manage_topics:
        ensure_topics(bootstrap, specs, k.replication_factor)
    different = topic_differences(bootstrap, specs, k.replication_factor)
    if different and not k.manage_topics:
        raise TopicsNotReady(
            "kafka.manage_topics is false and these topics are not as the pipeline needs "
            "them:\n  " + "\n  ".join(different)
        )
    for line in different:  # created earlier by someone else: work, but say so
        log.warning("topic %s", line)
    return codec_for(k, bootstrap)


class TopicsNotReady(RuntimeError):
    """Kafka is not set up as the configuration says; the message names what differs."""


async def _until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await main(stop)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _together(stop: asyncio.Event, *works: Awaitable[None]) -> None:
    """Run ``works`` until each returns. The first to fail sets ``stop``, so the others end
    cleanly, and its error is raised once they have: the process exits with it instead of
    running on without that part."""

    async def one(work: Awaitable[None]) -> None:
        try:
            await work
        except BaseException:
            stop.set()
            raise

    results = await asyncio.gather(*(one(w) for w in works), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def run_producers(settings: Settings, bootstrap: str, *, once: bool = False) -> None:
    """Poll the flows' sources. Instances share the poll tasks through the producers' group
    (each task on one instance at a time); ``once`` polls every task here, then exits."""
    from app.polling import FlowPolls
    from ml_connector.audit import AuditLog
    from ml_connector.flows import PollTask, poll_tasks
    from ml_connector.kafka.tasks import TaskLease, place
    from producers.registry import build_source

    codec = prepare(settings, bootstrap)
    secrets = SecretStore.from_config(settings.secrets)
    state = StateStore(bootstrap, settings.kafka.topics.state)
    kafka = producer(bootstrap, **settings.kafka.producer.properties())
    audit = AuditLog(kafka, settings.kafka.topics.audit, "producers")
    topics = settings.kafka.topics
    tasks = {t.id: t for t in poll_tasks(settings)}
    lease: TaskLease | None = None
    flows: dict[str, FlowPolls] = {}

    def holds(task: PollTask) -> bool:
        return lease is None or lease.holds(task.id)

    def fence(task: PollTask) -> Callable[[], contextlib.AbstractContextManager[object]]:
        def fenced() -> contextlib.AbstractContextManager[object]:
            return contextlib.nullcontext() if lease is None else lease.fence(task.id)

        return fenced

    async def start_flow(name: str, stop: asyncio.Event) -> Awaitable[None]:
        flow = settings.flows[name]
        acting_for(flow.source)
        source = build_source(settings, name, secrets)
        # A source that cannot be read at all ends the process with why, not a log of 404s.
        await source.start()
        pollers = {e: _poller(settings, name, e, source, codec, kafka, state, audit,
                              fence(PollTask(name, flow.source, e)))
                   for e in flow.entities}  # fmt: skip
        flows[name] = FlowPolls(name, flow, pollers, holds=holds, once=once)
        followers = []
        if flow.source in settings.webhook_connections():
            followers.append(_follow_hints(settings, bootstrap, flow.source, source,
                                           list(pollers.values()), stop))  # fmt: skip
        return _acting(flow.source, _together(stop, flows[name].run(stop), *followers))

    async def main(stop: asyncio.Event) -> None:
        nonlocal lease
        works = [await start_flow(name, stop) for name in settings.flows]
        if not once:
            placement = await asyncio.to_thread(place, bootstrap, topics.tasks, list(tasks),
                                                manage=settings.kafka.manage_topics)  # fmt: skip

            def started(task_id: str) -> None:
                t = tasks[task_id]
                flows[t.flow].started(t.entity)

            async def stopped(task_id: str, lost: bool) -> None:
                t = tasks[task_id]
                await flows[t.flow].stop(t.entity, lost)

            session = int(settings.producers.session_timeout.total_seconds() * 1000)
            lease = TaskLease(bootstrap, topics.tasks, topics.producer_group, placement,
                              on_start=started, on_stop=stopped,
                              session_timeout_ms=session)  # fmt: skip
            works.append(lease.run(stop.is_set))
        await _together(stop, *works)

    try:
        asyncio.run(_until_signal(main))
    finally:
        # Audit records still buffered go out before the process ends.
        left = kafka.flush(30)
        if left:
            log.error("producers stopped with %d record(s) not acknowledged by Kafka", left)
    failed = sorted({t for f in flows.values() for t in f.failed})
    if once and failed:
        raise ProducersFailed(f"polling failed for {', '.join(failed)}")


async def _acting(connection: str, work: Awaitable[None]) -> None:
    """``work`` in its own task acting for ``connection`` (log lines name it)."""
    acting_for(connection)
    await work


def _poller(settings: Settings, flow_name: str, entity: str, source: Any, codec: AvroCodec,
            kafka: Any, state: StateStore, audit: Any, fence: Any = None) -> Any:  # fmt: skip
    """The poller of one entity of a flow: what the producers run, and a backfill reuses."""
    from producers.poller import Poller

    flow = settings.flows[flow_name]
    return Poller(source, source.streams[entity], connection=flow.source,
                  topics=settings.kafka.topics, codec=codec, producer=kafka, state=state,
                  overlap=flow.overlap, audit=audit, fence=fence)  # fmt: skip


def backfill(
    settings: Settings, bootstrap: str, flow_name: str, entity: str, since: datetime,
    on_page: Callable[[int], None] | None = None,
) -> int:  # fmt: skip
    """Re-read one entity of a flow's source from ``since`` through the normal path (change
    topic, processors, sink), audited as ``backfill``; returns the events produced."""
    from ml_connector.audit import AuditLog
    from producers.registry import build_source

    flow = settings.flows[flow_name]
    codec = prepare(settings, bootstrap)
    secrets = SecretStore.from_config(settings.secrets)
    kafka = producer(bootstrap, **settings.kafka.producer.properties())
    audit = AuditLog(kafka, settings.kafka.topics.audit, "producers")

    async def main() -> int:
        acting_for(flow.source)
        source = build_source(settings, flow_name, secrets)
        try:
            await source.start()  # a backfill checks the source as the producers do
            state = StateStore(bootstrap, settings.kafka.topics.state)
            poller = _poller(settings, flow_name, entity, source, codec, kafka, state, audit)
            return await poller.backfill(since, on_page)
        finally:
            await source.aclose()

    try:
        return asyncio.run(main())
    finally:
        kafka.flush(30)  # the audit records too


class ProducersFailed(RuntimeError):
    """``run producers --once`` where a poll failed: the exit status says so."""


async def _follow_hints(settings: Settings, bootstrap: str, connection: str, source: Any,
                        pollers: list[Any], stop: asyncio.Event) -> None:  # fmt: skip
    """Webhook hints of one connection turned into change events, beside the polling."""
    from producers.hints import HintFollower

    topics = settings.kafka.topics
    group = f"{topics.processor_app()}-hints-{connection}"
    follower = HintFollower(source, {p.stream.entity: p for p in pollers},
                            consumer(bootstrap, group), topics.hints(connection))  # fmt: skip
    await follower.run(stop)


def run_webhooks(settings: Settings, bootstrap: str) -> None:
    """The receiver sources notify, and what keeps them notifying (subscriptions)."""
    import uvicorn

    from ml_connector.kafka.clients import Outgoing, deliver
    from producers.hint import Hint
    from producers.receiver import receiver_app
    from producers.registry import build_notifiers
    from producers.subscriptions import publish_expiries

    prepare(settings, bootstrap)
    topics, hooks = settings.kafka.topics, settings.webhooks
    secrets = SecretStore.from_config(settings.secrets)
    state = StateStore(bootstrap, topics.state)
    notifiers = build_notifiers(settings, secrets, state)
    kafka = producer(bootstrap, **settings.kafka.producer.properties())

    def write_hints(hints: list[Hint]) -> None:
        deliver(kafka, [Outgoing(topics.hints(hint.connection), hint.connection.encode(),
                                 hint.to_json()) for hint in hints], timeout=10)  # fmt: skip

    app = receiver_app(notifiers, write_hints)

    async def main(stop: asyncio.Event) -> None:
        config = uvicorn.Config(app, host=hooks.listen_host, port=hooks.listen_port,
                                log_level="warning", access_log=False)  # fmt: skip
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        # Subscriptions only after the receiver answers: BC's handshake calls it first.
        while not stop.is_set() and not serving.done():
            for (_system, connection), notifier in notifiers.items():
                acting_for(connection)
                await notifier.maintain()
            try:
                await asyncio.to_thread(publish_expiries, state)
            except Exception as exc:  # noqa: BLE001 - a gauge is not worth stopping the receiver
                log.warning("subscription expiries not published: %s", exc)
            await _sleep_or_stop(stop, hooks.check_interval.total_seconds())
        server.should_exit = True
        await serving

    asyncio.run(_until_signal(main))


def run_processors(settings: Settings, bootstrap: str) -> None:
    import faust

    from ml_connector.xref_view import XrefView
    from processors.app import build_app

    codec = prepare(settings, bootstrap)
    # A view that stopped following would resolve references against stale data: stop the
    # worker as a signal would, then exit with the view's error.
    xref = XrefView(bootstrap, settings.kafka.topics.xref,
                    on_failure=lambda _: os.kill(os.getpid(), signal.SIGTERM)).start()  # fmt: skip
    app = build_app(settings, bootstrap, codec, xref)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    # Faust's progress spinner sets the root logger to DEBUG so that it turns on every record:
    # every library's debug records would then be built for each event, a tenth of the CPU.
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    finally:
        if xref.failure is not None:
            raise xref.failure


def run_sinks(settings: Settings, bootstrap: str) -> None:
    from ml_connector.audit import AuditLog
    from sinks.holding import HeldKeys
    from sinks.registry import build_target
    from sinks.runner import SinkRunner, Tier

    codec = prepare(settings, bootstrap)
    secrets = SecretStore.from_config(settings.secrets)
    topics = settings.kafka.topics
    targets: dict[str, dict[str, str]] = {}
    for flow in settings.flows.values():
        for entity in flow.entities:
            targets.setdefault(flow.target, {})[topics.sink(flow.target, entity)] = entity

    def runner(target: str, sink_topics: dict[str, str]) -> SinkRunner:
        kafka = producer(bootstrap, **settings.kafka.producer.properties())
        group = topics.sink_group(target)
        return SinkRunner(
            # range assignment gives one member the same partition of every topic it reads,
            # so a key's sink and retry records always meet in one process.
            consumer=consumer(bootstrap, group, **{"partition.assignment.strategy": "range",
                                                   "max.poll.interval.ms": 1_800_000}),
            producer=kafka,
            codec=codec,
            target=build_target(settings, target, secrets),
            target_name=target,
            topics=sink_topics,
            tiers=[Tier(name, topics.retry(target, name), delay) for name, delay in
                   zip(settings.delivery.tier_names, settings.delivery.retry_tiers, strict=True)],
            dlq_topic=topics.dlq(target),
            group=group,
            held=HeldKeys(StateStore(bootstrap, topics.state, kafka), target),
            audit=AuditLog(kafka, topics.audit, "sinks"),
            batch_size=settings.delivery.batch_size,
            concurrency=settings.delivery.concurrency,
            xref_topic=topics.xref,
        )  # fmt: skip

    async def main(stop: asyncio.Event) -> None:
        runners = [runner(target, sink_topics) for target, sink_topics in targets.items()]

        async def stopping() -> None:
            await stop.wait()
            for r in runners:
                r.stop()

        try:
            await _together(stop, stopping(), *(r.run() for r in runners))
        finally:
            for r in runners:
                await r.target.aclose()

    asyncio.run(_until_signal(main))


def run_audit_indexer(settings: Settings, bootstrap: str) -> None:
    """Fold ``mlc.audit`` into the audit database, continuously."""
    from app.audit_index import AuditIndex

    prepare(settings, bootstrap)
    index = AuditIndex(settings.audit.database)
    topics = settings.kafka.topics

    async def main(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(index.sync, bootstrap, topics.audit, topics.audit_group)
            except KafkaException as exc:
                # A broker restart or a coordinator moving: rows are unique by position, so
                # the next round simply indexes again from the last committed offset.
                log.warning("audit indexing interrupted (%s); retrying", exc)
            await _sleep_or_stop(stop, 1.0)

    asyncio.run(_until_signal(main))


# The runners that take (settings, bootstrap); producers also take ``once``.
RUNNERS: dict[str, Callable[[Settings, str], None]] = {
    "producers": run_producers,
    "processors": run_processors,
    "sinks": run_sinks,
    "audit": run_audit_indexer,
    "webhooks": run_webhooks,
}

# What ends a worker's start-up with one line naming the problem rather than a traceback.
StartFailed = (
    ProducersFailed,
    KafkaUnreachable,
    AccessError,
    TopicsNotReady,
    TasksNotPlaced,
    MissingRegistry,
    FatalError,
)
