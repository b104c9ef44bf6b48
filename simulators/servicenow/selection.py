"""The rows of a table an encoded query selects, or the 400 the instance gives for a bad query.

Shared by the Table API and the Attachment API (whose queries run on ``sys_attachment``), so a
term the simulator cannot honour is refused the same way on both.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from simulators.servicenow.answers import sn_error
from simulators.servicenow.query import apply, parse
from simulators.servicenow.store import ServiceNowStore
from simulators.servicenow.tables import Table


def select(store: ServiceNowStore, table: Table, text: str) -> list[dict[str, str]] | JSONResponse:
    query = parse(text)
    if query.unsupported:
        return sn_error(
            400,
            "Invalid query",
            f"Unsupported encoded query term '{query.unsupported[0]}': this simulator does "
            "not implement its operator, and ignoring it would return the wrong rows.",
        )
    return apply(
        query,
        store.tables,
        table,
        store.snapshot(table.definition.name),
        invalid_returns_no_rows=store.options.invalid_query_returns_no_rows,
    )
