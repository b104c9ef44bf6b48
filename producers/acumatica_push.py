"""Acumatica push notifications (``/webhooks/acumatica/<connection>``).

Acumatica signs nothing: the destination carries one custom header with a shared secret,
checked on every request (401 without it or with another). The body is
``{Inserted, Deleted, Query, CompanyId, Id, TimeStamp, AdditionalInfo}``; an update is a
Deleted + Inserted pair. Each inserted row becomes a hint naming its record by key fields,
and the producer reads that record back. A row only deleted carries no record id to key a
delete by, so it is left to the next poll. Polling runs regardless: pushes only hurry it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ml_connector.connections.acumatica import AcumaticaConnection
from producers.acumatica import KEYS
from producers.hint import Hint
from producers.notifications import NotifierContext
from producers.receiver import BadNotification, Intake, json_body
from producers.shared_secret import SharedSecret


def parse_push(connection: str, body: Any, queries: Mapping[str, str]) -> list[Hint]:
    """The hints a notification stands for: one per inserted (new or updated) row."""
    if not isinstance(body, dict):
        raise BadNotification("expected a JSON object")
    query = body.get("Query")
    if not isinstance(query, str) or not query:
        raise BadNotification("lacks Query (the push notification's name)")
    entity = queries.get(query, query)
    if entity not in KEYS:
        raise BadNotification(f"Query {query!r} watches no entity read here "
                              f"(known: {', '.join(KEYS)}; see push.queries)")  # fmt: skip
    rows = [body.get(k, []) for k in ("Inserted", "Deleted")]
    if not all(isinstance(r, list) and all(isinstance(x, dict) for x in r) for r in rows):
        raise BadNotification("Inserted and Deleted must be lists of rows")
    hints = []
    for row in rows[0]:
        missing = [k for k in KEYS[entity] if not isinstance(row.get(k), str) or not row[k]]
        if missing:
            raise BadNotification(f"an inserted {entity} row lacks {', '.join(missing)}")
        keys = json.dumps({k: row[k] for k in KEYS[entity]}, sort_keys=True)
        hints.append(Hint(connection, entity, "updated", keys, query, None))
    return hints


class AcumaticaPushNotifier:
    def __init__(self, secret: SharedSecret, queries: Mapping[str, str]) -> None:
        self.secret = secret
        self.queries = dict(queries)

    async def handle(self, request: Request, intake: Intake) -> Response:
        if request.method != "POST":
            return JSONResponse({"error": "push notifications are POSTed"}, 405)
        if not self.secret.accepts(request):
            return intake.refused(1, 401, self.secret.refusal)
        try:
            hints = parse_push(intake.connection, await json_body(request), self.queries)
        except BadNotification as exc:
            return intake.malformed(f"not a push notification this endpoint understands: {exc}")
        return await intake.accept(hints)

    async def maintain(self) -> None:
        """Nothing to keep alive: the instance posts on every change of a watched query."""


def notifier(ctx: NotifierContext) -> AcumaticaPushNotifier | None:
    conn = ctx.connection
    if not isinstance(conn, AcumaticaConnection) or conn.push is None:
        return None
    return AcumaticaPushNotifier(SharedSecret.of(ctx, conn.push), conn.push.queries)
