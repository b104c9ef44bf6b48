"""What the demo measures of one entity: the source's keys and how the target holds them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import httpx

from ml_connector.connections.servicenow import DocumentTable, StagingTable


@dataclass(frozen=True)
class Landed:
    """What the demo compares for one entity: the source's keys and how the target holds them."""

    keys: set[str]
    held: Counter[str]  # key -> records in the target carrying it
    written: int


def in_servicenow(sn: httpx.Client, keys: set[str], table: StagingTable | DocumentTable) -> Landed:
    """How ServiceNow holds ``keys`` in the table a staging table fills, by its key column."""
    counts = sn.get(f"/_sim/tables/{table.target}/counts",
                    params={"field": table.target_key}).json()["counts"]  # fmt: skip
    staged = sn.get(f"/_sim/tables/{table.staging}").json()["result"]
    return Landed(keys, Counter(counts), len(staged))
