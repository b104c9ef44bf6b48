"""Query dialects: OData ``$filter``, ServiceNow encoded queries, ServiceTitan parameters."""

from __future__ import annotations

from collections.abc import Sequence

from ml_connector.api.odata import odata_query, odata_string
from ml_connector.streams.declaration import Stream


class OData:
    """``$filter`` with ``ge`` on the cursor, ``$select``, ``$expand`` (BC, NAV, F&O,
    Acumatica; the literal format is the cursor's)."""

    def all_of(self, clauses: Sequence[str]) -> str:
        if len(clauses) == 1:
            return clauses[0]
        return " and ".join(f"({c})" for c in clauses)

    def any_of(self, field: str, values: Sequence[str]) -> str:
        return " or ".join(f"{field} eq {odata_string(v)}" for v in values)

    def params(self, stream: Stream, where: str, since: str | None) -> dict[str, str]:
        bound = f"{stream.cursor_field} ge {since}" if since is not None else ""
        flt = self.all_of([c for c in (where, bound) if c]) if where or bound else None
        return odata_query(filter=flt, expand=stream.expand, select=stream.select) or {}


class EncodedQuery:
    """ServiceNow's ``sysparm_query``: ``field>=value`` clauses joined by ``^``.

    Fields asked for always include the cursor and the key, which keyset paging orders by.
    """

    def all_of(self, clauses: Sequence[str]) -> str:
        return "^".join(c for c in clauses if c)

    def any_of(self, field: str, values: Sequence[str]) -> str:
        return f"{field}IN{','.join(values)}"

    def params(self, stream: Stream, where: str, since: str | None) -> dict[str, str]:
        bound = f"{stream.cursor_field}>={since}" if since is not None else ""
        params = {"sysparm_query": self.all_of([bound, where]),
                  "sysparm_exclude_reference_link": "true"}  # fmt: skip
        if stream.select:
            cursor = (stream.cursor.field,) if stream.cursor else ()
            fields = dict.fromkeys((*stream.select, *cursor, stream.key_field))
            params["sysparm_fields"] = ",".join(fields)
        return params


class ServiceTitanQuery:
    """``modifiedOnOrAfter`` with ``sort=+ModifiedOn`` (oldest first); ServiceTitan has no
    filter expressions, so a fixed narrowing is declared as ``params`` instead."""

    def all_of(self, clauses: Sequence[str]) -> str:
        return "&".join(c for c in clauses if c)

    def any_of(self, field: str, values: Sequence[str]) -> str:
        return f"{field}={','.join(values)}"

    def params(self, stream: Stream, where: str, since: str | None) -> dict[str, str]:
        params = dict(part.split("=", 1) for part in where.split("&") if part)
        if stream.cursor is not None:
            params["sort"] = "+ModifiedOn"
            if since is not None:
                params["modifiedOnOrAfter"] = since
        return params


ODATA = OData()
ENCODED_QUERY = EncodedQuery()
SERVICETITAN_QUERY = ServiceTitanQuery()
