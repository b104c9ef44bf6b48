"""OData v4 query options as Business Central answers them: $filter, $orderby, keyset paging.

Only the subset BC clients use is implemented, but strictly: a literal of the wrong type or an
unknown property is a 400, as on the real service, so a client bug (say, a quoted datetime)
shows up here instead of in production.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, NoReturn, TypeVar


class Kind(StrEnum):
    GUID = "Edm.Guid"
    STRING = "Edm.String"
    ENUM = "Edm.Enum"  # BC enums filter with quoted member names, like strings
    DATETIME = "Edm.DateTimeOffset"
    DATE = "Edm.Date"
    DECIMAL = "Edm.Decimal"
    INTEGER = "Edm.Int32"
    BOOLEAN = "Edm.Boolean"


class ODataError(Exception):
    """A client error in a query option; the caller answers 400 BadRequest with the message."""


Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<str>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
    | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>[(),])
    """,
    re.VERBOSE,
)

_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"startswith", "endswith", "contains"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class _Operand:
    """A property reference (``field`` set) or a literal (``kind`` of the literal token)."""

    field: str | None = None
    literal_kind: str | None = None
    text: str = ""


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise ODataError(f"Syntax error at position {pos} in '{text}'.")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    return tokens


def parse_datetime(text: str) -> datetime:
    # Python 3.11 accepts 'Z' and any number of fractional digits (extra ones truncated).
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class FilterParser:
    """Recursive descent over: or > and > not > (comparison | function | parenthesised)."""

    def __init__(self, text: str, fields: Mapping[str, Kind], type_name: str) -> None:
        self.text = text
        self.fields = fields
        self.type_name = type_name
        self.tokens = _tokenize(text)
        self.i = 0

    def parse(self) -> Predicate:
        predicate = self._or()
        if self.i != len(self.tokens):
            self._fail(self.tokens[self.i])
        return predicate

    def _fail(self, tok: _Tok | None) -> NoReturn:
        pos = tok.pos if tok else len(self.text)
        raise ODataError(f"Syntax error at position {pos} in '{self.text}'.")

    def _peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self) -> _Tok:
        tok = self._peek()
        if tok is None:
            self._fail(None)
        self.i += 1
        return tok

    def _keyword(self, word: str) -> bool:
        tok = self._peek()
        if tok is not None and tok.kind == "ident" and tok.text == word:
            self.i += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        tok = self._next()
        if tok.text != text:
            self._fail(tok)

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._keyword("and"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def _not(self) -> Predicate:
        if self._keyword("not"):
            inner = self._not()
            return lambda row: not inner(row)
        return self._primary()

    def _primary(self) -> Predicate:
        tok = self._peek()
        if tok is not None and tok.text == "(":
            self.i += 1
            inner = self._or()
            self._expect(")")
            return inner
        if tok is not None and tok.kind == "ident" and tok.text in _FUNCTIONS:
            return self._function()
        left = self._operand()
        op = self._next()
        if op.kind != "ident" or op.text not in _COMPARISONS:
            self._fail(op)
        right = self._operand()
        return self._comparison(op.text, left, right)

    def _operand(self) -> _Operand:
        tok = self._next()
        if tok.kind == "ident" and tok.text not in ("true", "false", "null"):
            if tok.text not in self.fields:
                raise ODataError(
                    f"Could not find a property named '{tok.text}' on type "
                    f"'Microsoft.NAV.{self.type_name}'."
                )
            return _Operand(field=tok.text)
        if tok.kind in ("str", "datetime", "guid", "date", "num", "ident"):
            return _Operand(literal_kind=tok.kind, text=tok.text)
        self._fail(tok)

    def _function(self) -> Predicate:
        name = self._next().text
        self._expect("(")
        subject = self._operand()
        self._expect(",")
        needle = self._operand()
        self._expect(")")
        if subject.field is None or self.fields[subject.field] not in (Kind.STRING, Kind.ENUM):
            raise ODataError(
                f"The function '{name}' needs a string property as its first argument."
            )
        value = self._literal(needle, Kind.STRING)
        field = subject.field
        tests: dict[str, Callable[[str, str], bool]] = {
            "startswith": str.startswith,
            "endswith": str.endswith,
            "contains": lambda hay, n: n in hay,
        }
        test = tests[name]
        return lambda row: isinstance(row.get(field), str) and test(row[field], value)

    def _literal(self, operand: _Operand, kind: Kind) -> Any:
        """Convert a literal to the property's type, refusing what OData v4 refuses."""
        lk, text = operand.literal_kind, operand.text
        if lk == "ident" and text == "null":
            return None
        ok = {
            Kind.GUID: lk == "guid",
            Kind.STRING: lk == "str",
            Kind.ENUM: lk == "str",
            Kind.DATETIME: lk == "datetime",
            Kind.DATE: lk == "date",
            Kind.DECIMAL: lk == "num",
            Kind.INTEGER: lk == "num" and re.fullmatch(r"-?\d+", text) is not None,
            Kind.BOOLEAN: lk == "ident" and text in ("true", "false"),
        }[kind]
        if not ok:
            found = {"str": "Edm.String", "guid": "Edm.Guid", "datetime": "Edm.DateTimeOffset"}
            raise ODataError(
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{kind.value}' and '{found.get(lk or '', 'Edm.Literal')}'."
            )
        if kind in (Kind.STRING, Kind.ENUM):
            return text[1:-1].replace("''", "'")
        if kind is Kind.GUID:
            return text.lower()
        if kind is Kind.DATETIME:
            return parse_datetime(text)
        if kind is Kind.DATE:
            return date.fromisoformat(text)
        if kind is Kind.BOOLEAN:
            return text == "true"
        return int(text) if kind is Kind.INTEGER else float(text)

    def _comparison(self, op: str, left: _Operand, right: _Operand) -> Predicate:
        if left.field is None and right.field is not None:
            # "5 lt balance" reads as "balance gt 5".
            flipped = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)
            return self._comparison(flipped, right, left)
        if left.field is None:
            raise ODataError(f"A comparison needs a property on one side in '{self.text}'.")
        field = left.field
        if right.field is not None:
            other = right.field
            if self.fields[other] != self.fields[field]:
                raise ODataError(f"Properties '{field}' and '{other}' have incompatible types.")
            return lambda row: compare(op, row.get(field), row.get(other))
        value = self._literal(right, self.fields[field])
        return lambda row: compare(op, row.get(field), value)


def compare(op: str, a: Any, b: Any) -> bool:
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if a is None or b is None:
        return False  # ordering against null is never true in OData
    c = _cmp_values(a, b)
    return {"gt": c > 0, "ge": c >= 0, "lt": c < 0, "le": c <= 0}[op]


def parse_filter(text: str, fields: Mapping[str, Kind], type_name: str) -> Predicate:
    return FilterParser(text, fields, type_name).parse()


OrderBy = list[tuple[str, bool]]  # (field, descending)


def parse_orderby(text: str, fields: Mapping[str, Kind], type_name: str) -> OrderBy:
    order: OrderBy = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, direction = part.partition(" ")
        direction = direction.strip().lower() or "asc"
        if name not in fields:
            raise ODataError(
                f"Could not find a property named '{name}' on type 'Microsoft.NAV.{type_name}'."
            )
        if direction not in ("asc", "desc"):
            raise ODataError(f"Syntax error in $orderby '{text}'.")
        order.append((name, direction == "desc"))
    return order


def _cmp_values(a: Any, b: Any) -> int:
    # Nulls first, as OData orders them ascending.
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return (a > b) - (a < b)


def compare_keys(a: Sequence[Any], b: Sequence[Any], order: OrderBy) -> int:
    for (x, y), (_, desc) in zip(zip(a, b, strict=True), order, strict=True):
        c = _cmp_values(x, y)
        if c:
            return -c if desc else c
    return 0


def sort_key(row: Row, order: OrderBy) -> list[Any]:
    return [row.get(name) for name, _ in order]


R = TypeVar("R", bound=Row)


def sort_rows(rows: Iterable[R], order: OrderBy) -> list[R]:
    def cmp(a: Row, b: Row) -> int:
        return compare_keys(sort_key(a, order), sort_key(b, order), order)

    return sorted(rows, key=functools.cmp_to_key(cmp))


def encode_skiptoken(key: Sequence[Any]) -> str:
    """Keyset token: the sort key of the last row sent, so pages never skip or repeat."""
    plain = [v.isoformat() if isinstance(v, datetime | date) else v for v in key]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_skiptoken(token: str, order: OrderBy, fields: Mapping[str, Kind]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(raw, list) or len(raw) != len(order):
            raise ValueError("shape")
        values: list[Any] = []
        for value, (name, _) in zip(raw, order, strict=True):
            kind = fields[name]
            if value is not None and kind is Kind.DATETIME:
                value = parse_datetime(value)
            elif value is not None and kind is Kind.DATE:
                value = date.fromisoformat(value)
            values.append(value)
        return values
    except (ValueError, TypeError) as exc:
        raise ODataError("The skip token is not valid.") from exc


@dataclass(frozen=True)
class ListPage:
    rows: list[Row]
    total: int  # rows matching $filter, for @odata.count
    skiptoken: str | None  # token for the next page; None when this is the last page
    remaining_top: int | None  # what is left of $top for the next page


def _int_option(options: Mapping[str, str], name: str) -> int | None:
    raw = options.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise ODataError(f"Invalid value '{raw}' for the query option '{name}'.")
    return int(raw)


def list_page(
    rows: Iterable[Row],
    options: Mapping[str, str],
    fields: Mapping[str, Kind],
    type_name: str,
    page_size: int,
) -> ListPage:
    """Apply $filter, $orderby, $skip/$skiptoken and $top, then cut one server-driven page.

    Rows are ordered by $orderby then id, and the skiptoken is the last row's sort key, so
    following nextLinks neither skips nor repeats a row even when many share a timestamp.
    """
    order = parse_orderby(options.get("$orderby", ""), fields, type_name)
    if not any(name == "id" for name, _ in order):
        order.append(("id", False))
    top = _int_option(options, "$top")
    skip = _int_option(options, "$skip")
    matching = list(rows)
    if options.get("$filter"):
        predicate = parse_filter(options["$filter"], fields, type_name)
        matching = [r for r in matching if predicate(r)]
    ordered = sort_rows(matching, order)
    token = options.get("$skiptoken")
    if token:
        after = decode_skiptoken(token, order, fields)
        ordered = [r for r in ordered if compare_keys(sort_key(r, order), after, order) > 0]
    elif skip:
        ordered = ordered[skip:]
    page = ordered[: page_size if top is None else min(page_size, top)]
    remaining = None if top is None else top - len(page)
    more = bool(page) and len(ordered) > len(page) and (remaining is None or remaining > 0)
    next_token = encode_skiptoken(sort_key(page[-1], order)) if more else None
    return ListPage(page, len(matching), next_token, remaining)
