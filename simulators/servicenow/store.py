"""The ServiceNow simulator's data: tables, seed rows, import sets and transform results."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from simulators.base import SimulatorState
from simulators.servicenow.catalog import IMPORT_ROLES
from simulators.servicenow.import_sets import (
    TransformMap,
    TransformOutcome,
    coalesce_match,
    map_values,
    missing_required,
    resolve_references,
)
from simulators.servicenow.tables import (
    IMPORT_ROW_COLUMNS,
    SYS_ATTACHMENT,
    Table,
    staging_table,
    to_string,
)

if TYPE_CHECKING:
    from simulators.servicenow.options import ServiceNowOptions


@dataclass(frozen=True)
class ImportBatch:
    import_set: dict[str, str]  # the sys_import_set record
    multi_import_set_id: str
    rows: list[dict[str, str]]  # staging records, in request order


class ServiceNowStore(SimulatorState):
    """Tables, transform maps and import set results; ``seed.seed_instance`` fills the tables
    (``app.create_app`` does both)."""

    def __init__(self, options: ServiceNowOptions) -> None:
        super().__init__()
        self.options = options
        self.tables: dict[str, Table] = {d.name: Table(d) for d in options.tables}
        # The Attachment API needs its table even when the options list other tables.
        self.tables.setdefault(SYS_ATTACHMENT.name, Table(SYS_ATTACHMENT))
        self.attachment_files: dict[str, bytes] = {}  # sys_attachment sys_id -> content
        self.transform_maps: list[TransformMap] = sorted(
            options.transform_maps, key=lambda m: m.order
        )
        for name, columns in _staging_columns(self.transform_maps).items():
            self.tables.setdefault(name, Table(staging_table(name, columns, IMPORT_ROLES)))
        # Results per staging row: one outcome per transform map that ran on it.
        self.outcomes: dict[str, list[TransformOutcome]] = {}
        self._import_set_counter = 10000
        self._open_sync_sets: dict[str, str] = {}  # staging table -> open sys_import_set

    # -- plain table access --------------------------------------------------------------

    def watch(self, listener: Callable[[str, str, dict[str, str]], None]) -> None:
        """Call ``listener(table, operation, record)`` after every later write to any table."""
        for table in self.tables.values():
            table.on_change = listener

    def table(self, name: str) -> Table | None:
        """A table by name or by one of the instance's aliases (``sn_apo_invoice``)."""
        return self.tables.get(self.options.table_aliases.get(name, name))

    def canonical(self, name: str) -> str:
        return self.options.table_aliases.get(name, name)

    def find_sys_id(self, table: str, column: str, value: str) -> str | None:
        """The first record whose ``column`` equals ``value`` ignoring case (reference keys)."""
        wanted = value.casefold()
        for sys_id, record in self.tables[table].records.items():
            if record.get(column, "").casefold() == wanted:
                return sys_id
        return None

    def roles_of(self, user_name: str) -> set[str]:
        """The user's active roles, read from sys_user_has_role so edits take effect at once."""
        users = [
            s for s, r in self.tables["sys_user"].records.items() if r["user_name"] == user_name
        ]
        roles = self.tables["sys_user_role"].records
        return {
            roles.get(r["role"], {}).get("name", "")
            for r in self.tables["sys_user_has_role"].records.values()
            if r["user"] in users and r.get("state", "active") == "active"
        }

    def is_staging(self, name: str) -> bool:
        return any(m.source_table == name for m in self.transform_maps)

    def insert(
        self, table: str, values: Mapping[str, Any], user: str, *, at: datetime | None = None
    ) -> dict[str, str]:
        """``at`` stamps the row as if written then (an inspection write planting a tie)."""
        with self.lock:
            return self.tables[self.canonical(table)].insert(
                values, user=user, now=at or self.clock.now()
            )

    def update(
        self, table: str, sys_id: str, values: Mapping[str, Any], user: str
    ) -> dict[str, str]:
        with self.lock:
            target = self.tables[self.canonical(table)]
            record, _ = target.update(sys_id, values, user=user, now=self.clock.now())
            return record

    def delete(self, table: str, sys_id: str) -> None:
        with self.lock:
            self.tables[self.canonical(table)].delete(sys_id)

    def snapshot(self, table: str) -> list[dict[str, str]]:
        with self.lock:
            return [dict(r) for r in self.tables[self.canonical(table)].records.values()]

    # -- import sets ---------------------------------------------------------------------

    def _new_import_set(self, staging: str, mode: str, user: str, multi: str = "") -> str:
        self._import_set_counter += 1
        record = self.insert(
            "sys_import_set",
            {
                "number": f"ISET{self._import_set_counter:07d}",
                "table_name": staging,
                "state": "loading",
                "mode": mode,
                "multi_import_set": multi,
            },
            user,
        )
        return record["sys_id"]

    def import_rows(
        self, staging: str, rows: Sequence[Mapping[str, Any]], user: str, *, multiple: bool
    ) -> ImportBatch:
        """Stage ``rows`` and transform them synchronously.

        Single-row posts share one open synchronous import set per staging table, as web
        service imports do on the platform; each insertMultiple call gets its own set.
        """
        with self.lock:
            multi_id = ""
            if multiple:
                multi = self.insert(
                    "sys_multi_import_set", {"state": "complete", "source_table": staging}, user
                )
                multi_id = multi["sys_id"]
                set_id = self._new_import_set(staging, "asynchronous", user, multi_id)
            else:
                set_id = self._open_sync_sets.get(staging, "")
                if set_id not in self.tables["sys_import_set"].records:
                    set_id = self._new_import_set(staging, "synchronous", user)
                    self._open_sync_sets[staging] = set_id
            table = self.tables[staging]
            staged_rows = []
            for values in rows:
                client_values = {k: v for k, v in values.items() if k not in IMPORT_ROW_COLUMNS}
                position = sum(1 for r in table.records.values() if r["sys_import_set"] == set_id)
                record = table.insert(
                    {**client_values, "sys_import_set": set_id, "sys_import_row": str(position)},
                    user=user,
                    now=self.clock.now(),
                )
                self._transform_row(staging, record, user)
                staged_rows.append(record)
            import_set = self.tables["sys_import_set"].records[set_id]
            if multiple:
                self.update("sys_import_set", set_id, {"state": "processed"}, user)
            return ImportBatch(dict(import_set), multi_id, [dict(r) for r in staged_rows])

    def _transform_row(self, staging: str, record: dict[str, str], user: str) -> None:
        outcomes = [
            self._transform(tmap, record, user)
            for tmap in self.transform_maps
            if tmap.source_table == staging
        ]
        self.outcomes[record["sys_id"]] = outcomes
        if not outcomes:
            return
        last = outcomes[-1]
        self.tables[staging].update(
            record["sys_id"],
            {
                "sys_import_state": last.status,
                "sys_import_state_comment": last.status_message or last.error_message,
                "sys_target_sys_id": last.sys_id,
                "sys_target_table": last.table,
                "sys_transform_map": last.transform_map,
                "sys_row_error": last.error_message,
            },
            user=user,
            now=self.clock.now(),
        )

    def _transform(
        self, tmap: TransformMap, staged: Mapping[str, str], user: str
    ) -> TransformOutcome:
        target = self.tables[tmap.target_table]
        mapped = {
            column: to_string(target.columns[column], value)
            for column, value in map_values(tmap, staged).items()
            if column in target.columns
        }
        problem = resolve_references(tmap, mapped, self.find_sys_id) or missing_required(
            tmap, mapped
        )
        if problem:
            return TransformOutcome(tmap.name, tmap.target_table, "error", error_message=problem)
        now = self.clock.now()
        match = coalesce_match(tmap, mapped, target.records)
        if match is None and not tmap.insert_allowed:
            message = f"No {tmap.target_table} record matches " + ", ".join(
                f"{c} = {mapped.get(c, '')}" for c in tmap.coalesce
            )
            return TransformOutcome(tmap.name, tmap.target_table, "error", error_message=message)
        if match is None:
            record = target.insert({**tmap.insert_values, **mapped}, user=user, now=now)
            return TransformOutcome(tmap.name, tmap.target_table, "inserted", record["sys_id"])
        _, changed = target.update(match, mapped, user=user, now=now)
        if not changed:
            return TransformOutcome(
                tmap.name, tmap.target_table, "ignored", match, "No field values changed"
            )
        return TransformOutcome(tmap.name, tmap.target_table, "updated", match)

    def import_results(self, staging_sys_id: str, base_url: str) -> list[dict[str, Any]]:
        results = []
        for outcome in self.outcomes.get(staging_sys_id, []):
            target = self.tables[outcome.table]
            display_name = target.definition.display_field
            record = target.records.get(outcome.sys_id, {})
            results.append(outcome.as_result(base_url, display_name, record.get(display_name, "")))
        return results


def _staging_columns(maps: Sequence[TransformMap]) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    for tmap in maps:
        known = columns.setdefault(tmap.source_table, [])
        known += [c for c in tmap.field_map if c not in known]
    return columns
