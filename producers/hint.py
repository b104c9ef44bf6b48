"""What a notification says changed; the producer reads the record itself."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Hint:
    """Written to ``mlc.hints.<connection>`` by the receiver, read by the hint follower."""

    connection: str
    entity_set: str
    change_type: str
    record_id: str | None
    resource: str
    last_modified: str | None

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Hint:
        return cls(**json.loads(data))
