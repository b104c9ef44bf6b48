"""Acumatica push notifications: JSON POSTs of inserted and deleted rows, one secret header.

A notification watches one entity (a generic inquiry or built-in query on the real system).
Each change is sent as ``{Inserted, Deleted, Query, CompanyId, Id, TimeStamp,
AdditionalInfo}``; an update is a Deleted (old row) + Inserted (new row) pair. Acumatica
signs nothing: the destination is configured with one custom header carrying a shared
secret. A delivery is attempted at most five times.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from starlette.routing import Route

from simulators.acumatica.entities import EntityDef
from simulators.acumatica.options import PushNotification
from simulators.acumatica.store import flat
from simulators.base import INSPECTION_PREFIX
from simulators.deliveries import Outbox, subscription_routes
from simulators.records import Change

_DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def dotnet_ticks(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _DOTNET_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


class PushNotifications:
    def __init__(
        self,
        outbox: Outbox,
        definitions: list[PushNotification],
        entities: Mapping[str, EntityDef],
        company: str,
    ) -> None:
        self.outbox = outbox
        self.definitions = definitions
        self.entities = entities
        self.company = company

    def on_change(self, change: Change) -> None:
        entity = self.entities.get(change.table)
        if entity is None:
            return
        for definition in [d for d in self.definitions if d.entity == change.table]:
            body = {
                "Inserted": [flat(entity, change.after)] if change.after else [],
                "Deleted": [flat(entity, change.before)] if change.before else [],
                "Query": definition.name,
                "CompanyId": self.company,
                "Id": definition.id,
                "TimeStamp": dotnet_ticks(change.at),
                "AdditionalInfo": {},
            }
            self.outbox.enqueue(
                definition.name,
                definition.url,
                json.dumps(body).encode(),
                {definition.header_name: definition.header_value},
                {"change": change.kind, "sequence": change.sequence},
            )


def push_routes(push: PushNotifications) -> list[Route]:
    """List, add and clear notification definitions (the Push Notifications form)."""

    def parse(body: dict[str, Any]) -> PushNotification:
        definition = PushNotification(**{k: str(v) for k, v in body.items()})
        if definition.entity not in push.entities:
            raise ValueError(f"Unknown entity '{definition.entity}'.")
        return definition

    def render(definition: PushNotification) -> dict[str, Any]:
        return {**asdict(definition), "id": definition.id}

    path = f"{INSPECTION_PREFIX}/push-notifications"
    return subscription_routes(path, push.definitions, parse, render, key="notifications")
