"""Business Central change subscriptions, kept alive: created, renewed, recreated.

A subscription lives three days; one BC deleted (after our endpoint answered 4xx, or by an
admin) is simply absent from BC's list. Every round the manager makes sure each subscribed
entity set has a live subscription that will not expire before the next renewal margin, and
keeps its clientState (a secret per subscription) sealed in ``mlc.state`` so the receiver can
check notifications after a restart. When BC refuses (our endpoint unreachable, handshake
failed), the failure is logged and counted and polling carries the flow on its own.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ml_connector.api.errors import ApiError
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.secrets import SecretStore
from ml_connector.state import StateStore
from producers.events import parse_timestamp

log = logging.getLogger(__name__)


@dataclass
class ClientStates:
    """subscriptionId -> clientState, shared by the manager and the receiver."""

    by_subscription: dict[str, str] = field(default_factory=dict)

    def check(self, subscription_id: str, client_state: str) -> bool:
        expected = self.by_subscription.get(subscription_id)
        # Bytes, not str: compare_digest refuses non-ASCII text, and a sender may send any.
        given = client_state.encode("utf-8", "surrogatepass")
        return expected is not None and secrets.compare_digest(expected.encode(), given)


@dataclass
class SubscriptionStats:
    created: int = 0
    renewed: int = 0
    recreated: int = 0
    failed: int = 0


def _expiry(subscription: dict[str, Any]) -> datetime:
    return parse_timestamp(str(subscription["expirationDateTime"]))


class SubscriptionManager:
    def __init__(
        self,
        client: BusinessCentralClient,
        *,
        connection: str,
        entity_sets: list[str],
        notification_url: str,
        state: StateStore,
        secrets_store: SecretStore,
        client_states: ClientStates,
        renew_before: timedelta = timedelta(hours=24),
    ) -> None:
        self.client = client
        self.connection = connection
        self.entity_sets = entity_sets
        self.notification_url = notification_url
        self.state = state
        self.secrets = secrets_store
        self.client_states = client_states
        self.renew_before = renew_before
        self.stats = SubscriptionStats()

    def _key(self, entity_set: str) -> str:
        return f"subscription|{self.connection}|{entity_set}"

    async def ensure(self) -> None:
        """One round over every entity set; never raises for one set's failure."""
        try:
            live = {s["subscriptionId"]: s for s in await self.client.subscriptions()}
        except ApiError as exc:
            self.stats.failed += 1
            log.warning("cannot list Business Central subscriptions (%s); polling goes on", exc)
            return
        for entity_set in self.entity_sets:
            try:
                await self._ensure_one(entity_set, live)
            except ApiError as exc:
                self.stats.failed += 1
                log.warning("subscription for %s/%s failed (%s); polling goes on",
                            self.connection, entity_set, exc)  # fmt: skip

    async def _ensure_one(self, entity_set: str, live: dict[str, dict[str, Any]]) -> None:
        saved = self.state.load(self._key(entity_set))
        current = live.get(saved["id"]) if saved else None
        if current is None:
            if saved:
                self.stats.recreated += 1
                log.warning("subscription %s for %s is gone from Business Central; recreating",
                            saved["id"], entity_set)  # fmt: skip
            client_state = secrets.token_urlsafe(24)
            current = await self.client.create_subscription(
                self.notification_url, entity_set, client_state
            )
            self.stats.created += 1
        else:
            client_state = self.secrets.unseal(saved["client_state"]) if saved else ""
            if _expiry(current) - datetime.now(UTC) < self.renew_before:
                current = await self.client.renew_subscription(current)
                self.stats.renewed += 1
                log.info("renewed subscription %s for %s until %s", current["subscriptionId"],
                         entity_set, current["expirationDateTime"])  # fmt: skip
        subscription_id = str(current["subscriptionId"])
        self.client_states.by_subscription[subscription_id] = client_state
        self.state.save(self._key(entity_set), {
            "id": subscription_id, "expires": current["expirationDateTime"],
            "client_state": self.secrets.seal(client_state),
        })  # fmt: skip

    def load_known(self) -> None:
        """clientStates saved by an earlier run, so notifications check out right away."""
        prefix = f"subscription|{self.connection}|"
        for value in self.state.load_prefix(prefix).values():
            self.client_states.by_subscription[value["id"]] = self.secrets.unseal(
                value["client_state"]
            )
