"""Staging rows into ServiceNow's Import Set API, one record at a time or many at once.

A record becomes a ``Plan``: its header row (a master's only row) and, for a document, its
line rows. Written alone, each row is one synchronous import. Written as a batch, the rows
of every record go through ``insertMultiple``, grouped by staging table in runs of the
connection's batch size, and the per-row results read back decide each record's outcome:
a rejected row fails its own record only. Headers go before lines, since a line's transform
finds its header by the ERP number; a document whose header failed sends no lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ml_connector.api.batch import chunks
from ml_connector.api.errors import UnreadableAnswer
from ml_connector.clients.servicenow import ImportResult, ServiceNowClient
from sinks.base import Outcome
from sinks.batching import Result

Row = dict[str, str]


@dataclass(frozen=True)
class Plan:
    """What one record writes: a row, and for a document its lines (labelled for messages)."""

    staging: str
    row: Row
    what: str | None = None  # "purchase_order PO1" in messages about documents
    line_staging: str | None = None
    lines: tuple[tuple[str, Row], ...] = ()


def problem(results: Sequence[ImportResult], what: str | None) -> str | None:
    """Why a row's results refuse the record, or None when the transform took it."""
    failed = [r for r in results if not r.ok]
    if failed or not results:
        reason = failed[0].message if failed else "the transform returned no result"
        return f"Import Set transform error{f' ({what})' if what else ''}: {reason}"
    return None


def outcome(plan: Plan, header: ImportResult, lines: Sequence[ImportResult]) -> Outcome:
    """A written record's outcome: a document whose header stayed but a line changed was
    updated all the same."""
    changed = header.status != "ignored" or any(r.status != "ignored" for r in lines)
    status = header.status if header.status == "inserted" or not changed else "updated"
    return Outcome(status if plan.lines else header.status, target_id=header.sys_id)


async def write_one(client: ServiceNowClient, plan: Plan) -> Outcome:
    """Row by row, each import answered synchronously; the first error refuses the record."""
    header = await client.import_row(plan.staging, plan.row)
    if (why := problem(header, plan.what)) is not None:
        return Outcome("rejected", error=why)
    done: list[ImportResult] = []
    for label, row in plan.lines:
        assert plan.line_staging is not None
        results = await client.import_row(plan.line_staging, row)
        if (why := problem(results, f"{plan.what} line {label}")) is not None:
            return Outcome("rejected", error=why)
        done.append(results[0])
    return outcome(plan, header[0], done)


async def _import(
    client: ServiceNowClient, rows: list[tuple[int, str, Row]], size: int
) -> dict[int, list[ImportResult | Exception]]:
    """``(owner, staging, row)`` through insertMultiple, by staging table in runs of ``size``:
    each owner's results in row order, or the error of the request that carried its row."""
    by_table: dict[str, list[tuple[int, Row]]] = defaultdict(list)
    for owner, staging, row in rows:
        by_table[staging].append((owner, row))
    answered: dict[int, list[ImportResult | Exception]] = defaultdict(list)
    for staging, owned in by_table.items():
        for run in chunks(owned, size):
            try:
                results: Sequence[ImportResult | Exception] = await client.import_multiple(
                    staging, [row for _, row in run]
                )
                if len(results) != len(run):
                    raise UnreadableAnswer(
                        f"insertMultiple into {staging}: {len(results)} staging rows read back "
                        f"for {len(run)} sent"
                    )
            except Exception as exc:  # noqa: BLE001 - each record of the run gets it
                results = [exc] * len(run)
            for (owner, _), result in zip(run, results, strict=True):
                answered[owner].append(result)
    return answered


async def write_many(client: ServiceNowClient, plans: Sequence[Plan | Outcome | Exception],
                     size: int) -> list[Result]:  # fmt: skip
    """One result per plan (what is already a result stays as it is), headers first."""
    results: list[Result | None] = [None if isinstance(p, Plan) else p for p in plans]
    todo = {i: p for i, p in enumerate(plans) if isinstance(p, Plan)}
    headers = await _import(client, [(i, p.staging, p.row) for i, p in todo.items()], size)
    first: dict[int, ImportResult] = {}
    for i, p in todo.items():
        [answer] = headers[i]
        if isinstance(answer, Exception):
            results[i] = answer
        elif (why := problem([answer], p.what)) is not None:
            results[i] = Outcome("rejected", error=why)
        else:
            first[i] = answer
    line_rows = [(i, todo[i].line_staging or "", row) for i in first for _, row in todo[i].lines]
    lines = await _import(client, line_rows, size) if line_rows else {}
    for i, header in first.items():
        p = todo[i]
        done: list[ImportResult] = []
        for (label, _), answer in zip(p.lines, lines.get(i, []), strict=True):
            if isinstance(answer, Exception):
                results[i] = answer
                break
            if (why := problem([answer], f"{p.what} line {label}")) is not None:
                results[i] = Outcome("rejected", error=why)
                break
            done.append(answer)
        else:
            results[i] = outcome(p, header, done)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]
