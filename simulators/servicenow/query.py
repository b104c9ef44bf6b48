"""ServiceNow encoded queries (``sysparm_query``): conditions, ^OR, ^NQ and ORDERBY.

Precedence follows the platform: ``^OR`` binds tighter than ``^`` (so ``a^b^ORc`` is
``a AND (b OR c)``), and ``^NQ`` starts a new query ORed with the previous ones. Conditions on
unknown columns are dropped silently, as the instance does by default.

A term whose operator this simulator does not implement (``JOIN``/``RLQUERY`` subqueries, field
comparisons such as ``SAMEAS``, relative dates, ...) or that has no operator at all is kept in
``EncodedQuery.unsupported`` and the Table API refuses the request: dropping it would return
more rows than the instance does, which a client could not tell from a correct answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from simulators.servicenow.tables import ColKind, Table, resolve

Record = Mapping[str, str]
Resolver = Callable[[Record, str], str | None]

_CONDITION_RE = re.compile(
    r"^(?P<field>[a-z0-9_.]+?)"
    r"(?P<op>ISNOTEMPTY|ISEMPTY|EMPTYSTRING|ANYTHING|BETWEEN|NOT LIKE|NOTLIKE|LIKE|STARTSWITH"
    r"|ENDSWITH|NOT IN|IN|!=|>=|<=|=|>|<)"
    r"(?P<value>.*)$",
    re.DOTALL,
)
_DATE_GENERATE_RE = re.compile(
    r"javascript:gs\.dateGenerate\('(\d{4}-\d{2}-\d{2})'\s*,\s*'(\d{2}:\d{2}:\d{2})'\)"
)
_ESCAPED_CARET = "\x00"


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str


@dataclass
class EncodedQuery:
    # OR of groups; each group an AND of clauses; each clause an OR of conditions.
    groups: list[list[list[Condition]]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    invalid: bool = False  # some part named an unknown column
    unsupported: list[str] = field(default_factory=list)  # terms with no operator we implement


def parse(text: str) -> EncodedQuery:
    query = EncodedQuery()
    text = text.replace("^^", _ESCAPED_CARET)  # "^^" is a literal caret inside a value
    for group_text in text.split("^NQ"):
        group: list[list[Condition]] = []
        for raw in group_text.split("^"):
            term = raw.replace(_ESCAPED_CARET, "^").strip()
            if not term or term == "EQ":
                continue
            if term.startswith("ORDERBYDESC"):
                query.order.append((term[len("ORDERBYDESC") :], True))
                continue
            if term.startswith("ORDERBY"):
                query.order.append((term[len("ORDERBY") :], False))
                continue
            joins_previous = term.startswith("OR") and bool(group)
            condition = _condition(term[2:] if joins_previous else term)
            if condition is None:
                query.unsupported.append(term)
                continue
            if joins_previous:
                group[-1].append(condition)
            else:
                group.append([condition])
        query.groups.append(group)
    return query


def _condition(term: str) -> Condition | None:
    match = _CONDITION_RE.match(term)
    if match is None:
        return None
    value = _DATE_GENERATE_RE.sub(r"\1 \2", match["value"])
    return Condition(match["field"], match["op"], value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _ordered(kind: ColKind, a: str, b: str) -> int:
    if kind is ColKind.INTEGER:
        x, y = _number(a), _number(b)
        if x is not None and y is not None:
            return (x > y) - (x < y)
    a, b = a.casefold(), b.casefold()  # string collation on instances is case-insensitive
    return (a > b) - (a < b)


def matches(condition: Condition, value: str, kind: ColKind) -> bool:
    op, wanted = condition.op, condition.value
    folded, target = value.casefold(), wanted.casefold()
    if op == "ISEMPTY":
        return value == ""
    if op == "ISNOTEMPTY":
        return value != ""
    if op == "EMPTYSTRING":
        return value == ""
    if op == "ANYTHING":
        return True
    if op == "BETWEEN":
        # ``fieldBETWEENlow@high``, both ends included (dates come as two dateGenerate calls).
        low, sep, high = wanted.partition("@")
        return bool(sep) and _ordered(kind, value, low) >= 0 and _ordered(kind, value, high) <= 0
    if op in ("IN", "NOT IN"):
        inside = folded in {v.strip().casefold() for v in wanted.split(",")}
        return inside if op == "IN" else not inside
    if op == "LIKE":
        return target in folded
    if op in ("NOTLIKE", "NOT LIKE"):
        return target not in folded
    if op == "STARTSWITH":
        return folded.startswith(target)
    if op == "ENDSWITH":
        return folded.endswith(target)
    if kind is ColKind.BOOLEAN:
        value = "true" if value == "true" else "false"
        wanted = "true" if wanted.strip().lower() in ("true", "1") else "false"
    c = _ordered(kind, value, wanted)
    return {"=": c == 0, "!=": c != 0, ">": c > 0, ">=": c >= 0, "<": c < 0, "<=": c <= 0}[op]


def _kind_of(tables: Mapping[str, Table], table: Table, path: str) -> ColKind | None:
    head, _, rest = path.partition(".")
    column = table.columns.get(head)
    if column is None:
        return None
    if not rest:
        return column.kind
    if column.reference is None or column.reference not in tables:
        return None
    return _kind_of(tables, tables[column.reference], rest)


def apply(
    query: EncodedQuery,
    tables: Mapping[str, Table],
    table: Table,
    records: list[dict[str, str]],
    *,
    invalid_returns_no_rows: bool = False,
) -> list[dict[str, str]]:
    """Filter then order ``records`` (kept in their given order where ORDERBY ties)."""
    groups: list[list[list[tuple[Condition, ColKind]]]] = []
    invalid = query.invalid
    for group in query.groups:
        clauses = []
        for clause in group:
            known = [(c, k) for c in clause if (k := _kind_of(tables, table, c.field)) is not None]
            invalid = invalid or len(known) != len(clause)
            if known:
                clauses.append(known)
        groups.append(clauses)
    if invalid and invalid_returns_no_rows:
        return []

    def keep(record: Record) -> bool:
        def holds(condition: Condition, kind: ColKind) -> bool:
            return matches(condition, resolve(tables, table, record, condition.field) or "", kind)

        return any(all(any(holds(c, k) for c, k in clause) for clause in group) for group in groups)

    result = [r for r in records if keep(r)] if any(groups) else list(records)
    # Sort by the last key first; Python's stable sort then honours earlier keys.
    for name, descending in reversed(query.order):
        kind = _kind_of(tables, table, name)
        if kind is None:
            continue

        def key(record: Record, name: str = name, kind: ColKind = kind) -> tuple[int, float, str]:
            return _sort_key(kind, resolve(tables, table, record, name) or "")

        result.sort(key=key, reverse=descending)
    return result


def _sort_key(kind: ColKind, value: str) -> tuple[int, float, str]:
    if kind is ColKind.INTEGER and (number := _number(value)) is not None:
        return (1, number, "")
    return (0 if value == "" else 1, 0.0, value.casefold())
