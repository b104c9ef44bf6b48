"""Table ACLs by role: reads need one of a table's read roles, writes a write role; admin passes.

Kept apart from ``app`` because the Attachment API judges access by the table a file is attached
to, with the same roles the Table API checks on that table.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from simulators.servicenow.answers import sn_error
from simulators.servicenow.store import ServiceNowStore


def allowed(store: ServiceNowStore, table_name: str, user: str, *, write: bool) -> bool:
    table = store.table(table_name)
    if table is None:
        return True  # no table, no ACL: the caller answers for the unknown table itself
    required = table.definition.write_roles if write else table.definition.read_roles
    roles = store.roles_of(user)
    return not required or "admin" in roles or bool(roles & set(required))


def acl_denial(
    store: ServiceNowStore, table_name: str, user: str, *, write: bool
) -> JSONResponse | None:
    """The instance's 403 when ``user`` may not read (or write) ``table_name``; else None."""
    if allowed(store, table_name, user, write=write):
        return None
    table = store.table(table_name)
    assert table is not None  # allowed() passes unknown tables
    required = table.definition.write_roles if write else table.definition.read_roles
    operation = "write" if write else "read"
    return sn_error(
        403,
        "User Not Authorized",
        f"ACL Exception: {operation} operation on table {table.definition.name} failed "
        f"security check; user lacks one of the roles {', '.join(required)}",
    )
