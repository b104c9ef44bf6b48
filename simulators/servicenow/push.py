"""The optional push accelerator: a Business Rule calling an Outbound REST Message.

ServiceNow has no registerable webhooks; an admin may add an after-insert/update/delete
Business Rule that POSTs the changed record to the connector (RESTMessageV2). Its payload and
headers are whatever the admin defines, so this simulates one admin-defined shape:
``{"table", "sys_id", "operation", "record"}`` with a shared-secret header, retried on 5xx
or no answer through the shared ``deliveries.Outbox``. Deliveries are listed under
``/_sim/push/deliveries``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
from starlette.routing import Route

from simulators.base import INSPECTION_PREFIX
from simulators.clock import SimClock
from simulators.deliveries import Outbox, OutboxOptions, delivery_routes, retry_on_server_errors


@dataclass(frozen=True)
class PushRule:
    url: str
    tables: tuple[str, ...]  # tables whose changes are pushed (the Business Rules' tables)
    secret_header: str = "X-MLC-Push-Secret"
    secret: str = ""
    operations: tuple[str, ...] = ("insert", "update", "delete")
    retry_delays: tuple[float, ...] = (10, 30, 60, 300)


class BusinessRulePush:
    def __init__(
        self, clock: SimClock, rule: PushRule, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self.rule = rule
        self.outbox = Outbox(
            clock,
            OutboxOptions(
                retry_delays=rule.retry_delays,
                retry_on=retry_on_server_errors,
                transport=transport,
            ),
        )

    def on_change(self, table: str, operation: str, record: dict[str, str]) -> None:
        if table not in self.rule.tables or operation not in self.rule.operations:
            return
        payload = {
            "table": table,
            "sys_id": record.get("sys_id", ""),
            "operation": operation,
            "record": dict(record),
        }
        self.outbox.enqueue(
            f"{table}.{operation}",
            self.rule.url,
            json.dumps(payload).encode(),
            {self.rule.secret_header: self.rule.secret},
            {"table": table, "sys_id": record.get("sys_id", "")},
        )

    def routes(self) -> list[Route]:
        return delivery_routes(self.outbox, f"{INSPECTION_PREFIX}/push/deliveries")
