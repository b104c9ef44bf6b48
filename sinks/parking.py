"""Per-key order across retries: keys with a record waiting in a retry tier.

While a key has a record in retry, later records of the same key follow it into retry instead
of overtaking it. The state lives in ``mlc.state`` (compacted), so it survives restarts and
moves with the partitions on a rebalance: the sink consumer owns a key's partition in the sink
topic and in every retry topic at once (same partition count, range assignment), and reloads
this state whenever partitions are assigned to it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from ml_connector.kafka.clients import DeliveryTracker
from ml_connector.state import StateStore


@dataclass
class KeyState:
    """Original sink-topic offsets of a key's records still waiting, and where the first waits.

    ``done`` is the highest original offset already settled (written or dead): a copy of an
    older record showing up again after a crash is recognised as stale and not written over a
    newer one.
    """

    pending: list[int] = field(default_factory=list)
    tier: str | None = None
    done: int = -1

    @property
    def head(self) -> int | None:
        return self.pending[0] if self.pending else None

    def park(self, offset: int) -> None:
        if offset not in self.pending:
            bisect.insort(self.pending, offset)

    def settle(self, offset: int) -> None:
        if offset in self.pending:
            self.pending.remove(offset)
        self.done = max(self.done, offset)
        if not self.pending:
            self.tier = None

    def to_json(self) -> dict[str, Any]:
        return {"pending": self.pending, "tier": self.tier, "done": self.done}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyState:
        return cls(list(data.get("pending", [])), data.get("tier"), int(data.get("done", -1)))


class ParkedKeys:
    def __init__(self, state: StateStore, target: str) -> None:
        self._state = state
        self._prefix = f"parked|{target}|"
        self._keys: dict[tuple[str, str], KeyState] = {}

    def _state_key(self, topic: str, key: str) -> str:
        return f"{self._prefix}{topic}|{key}"

    def reload(self) -> None:
        self._keys = {}
        for state_key, value in self._state.load_prefix(self._prefix).items():
            topic, _, key = state_key[len(self._prefix) :].partition("|")
            self._keys[(topic, key)] = KeyState.from_json(value)

    def get(self, topic: str, key: str) -> KeyState | None:
        return self._keys.get((topic, key))

    def open(self, topic: str, key: str) -> KeyState:
        return self._keys.setdefault((topic, key), KeyState())

    def save(self, topic: str, key: str, tracker: DeliveryTracker) -> None:
        state = self._keys[(topic, key)]
        self._state.send(self._state_key(topic, key), state.to_json(), tracker)

    def waiting(self) -> dict[tuple[str, str], KeyState]:
        return {k: v for k, v in self._keys.items() if v.pending}
