"""Per-key order across retries: keys held behind a record waiting in a retry tier.

While a key has a record in retry, later records of the same key are held: they follow it
into retry instead of overtaking it. The state lives in ``mlc.state`` (compacted), so it
survives restarts and moves with the partitions on a rebalance: the sink consumer owns a key's
partition in the sink topic and in every retry topic at once (same partition count, range
assignment), and reloads this state whenever partitions are assigned to it.

(Documents waiting for their masters in the processors are *parked*; that is another thing.)
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

    def hold(self, offset: int) -> None:
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


class HeldKeys:
    """The state of each key of one target's sink topics that is, or was, held.

    Versions before the rename kept it under ``parked|<target>|``. Those keys are still read
    (a deployment upgraded in place keeps its order), written back under ``held|<target>|``,
    and the old key is deleted once its key holds nothing any more, so it never shadows newer
    state on a later reload.
    """

    def __init__(self, state: StateStore, target: str) -> None:
        self._state = state
        self._prefix = f"held|{target}|"
        self._legacy_prefix = f"parked|{target}|"
        self._keys: dict[tuple[str, str], KeyState] = {}
        self._legacy: set[tuple[str, str]] = set()  # keys still present under the old prefix

    def _state_key(self, topic: str, key: str, prefix: str | None = None) -> str:
        return f"{prefix or self._prefix}{topic}|{key}"

    def reload(self) -> None:
        stored = self._state.load_all()
        legacy = _under(stored, self._legacy_prefix)
        self._legacy = set(legacy)
        # Written under the new prefix means written since the upgrade: it is the newer one.
        self._keys = {**legacy, **_under(stored, self._prefix)}

    def get(self, topic: str, key: str) -> KeyState | None:
        return self._keys.get((topic, key))

    def open(self, topic: str, key: str) -> KeyState:
        return self._keys.setdefault((topic, key), KeyState())

    def save(self, topic: str, key: str, tracker: DeliveryTracker) -> None:
        state = self._keys[(topic, key)]
        self._state.send(self._state_key(topic, key), state.to_json(), tracker)
        if not state.pending and (topic, key) in self._legacy:
            # Released: the new key holds all there is to know; the old one would only be
            # read again by a version that no longer runs here.
            self._state.send(self._state_key(topic, key, self._legacy_prefix), None, tracker)
            self._legacy.discard((topic, key))

    def waiting(self) -> dict[tuple[str, str], KeyState]:
        return {k: v for k, v in self._keys.items() if v.pending}


def _under(stored: dict[str, dict[str, Any]], prefix: str) -> dict[tuple[str, str], KeyState]:
    """The key states stored under ``prefix``, by (sink topic, record key)."""
    found = {}
    for state_key, value in stored.items():
        if state_key.startswith(prefix):
            topic, _, key = state_key[len(prefix) :].partition("|")
            found[(topic, key)] = KeyState.from_json(value)
    return found
