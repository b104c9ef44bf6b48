"""OData JSON ``$batch`` (BC, NAV): operations in, per-operation results out.

Each result is sorted by the same rules as a plain call (``errors.raise_for_status``), so a
caller handles a failed operation in a batch exactly as it would a failed request.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from ml_connector.api.errors import raise_for_status

T = TypeVar("T")


@dataclass(frozen=True)
class BatchOperation:
    """One request inside a batch; ``url`` is relative to the API root
    (``companies(...)/vendors``) or absolute."""

    method: str
    url: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Adjacent operations sharing a group take effect as a whole (OData's JSON changeset).
    atomicity_group: str | None = None

    def render(self, op_id: str) -> dict[str, Any]:
        headers = dict(self.headers)
        request: dict[str, Any] = {"id": op_id, "method": self.method, "url": self.url}
        if self.atomicity_group is not None:
            request["atomicityGroup"] = self.atomicity_group
        if self.body is not None:
            headers.setdefault("Content-Type", "application/json")
            request["body"] = self.body
        if headers:
            request["headers"] = headers
        return request


@dataclass(frozen=True)
class BatchResult:
    operation: BatchOperation
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return self.status < 400

    def raise_for_status(self) -> None:
        """Raise the ApiError a plain call with this answer would have raised."""
        request = httpx.Request(self.operation.method, self.operation.url)
        kwargs: dict[str, Any] = {} if self.body is None else {"json": self.body}
        response = httpx.Response(self.status, headers=self.headers, request=request, **kwargs)
        raise_for_status(response)


def first_failure(results: Sequence[BatchResult]) -> None:
    """Raise what the operation that failed raises alone; in an atomicity group the others
    answer 424 (not applied because of it), so the one with its own error comes first."""
    failed = sorted((r for r in results if not r.ok), key=lambda r: r.status == 424)
    if failed:
        failed[0].raise_for_status()


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def parse_batch(answer: Any, operations: Sequence[BatchOperation]) -> list[BatchResult]:
    """Results in the order of ``operations`` (answers may come in any order, matched by id)."""
    by_id = {str(r.get("id")): r for r in (answer or {}).get("responses", [])}
    results = []
    for index, operation in enumerate(operations):
        r = by_id.get(str(index))
        if r is None:
            raise ValueError(f"the $batch answer has no response for operation {index}")
        results.append(
            BatchResult(operation, int(r["status"]), dict(r.get("headers") or {}), r.get("body"))
        )
    return results
