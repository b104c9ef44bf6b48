"""Per-flow field overrides: what a customer changes in a target's rows without code.

Under ``flows.<flow>.fields.<entity>`` each key is a target column and its value one rule:

- ``{from: <canonical field>}``: the column takes that field of the canonical entity;
- ``{value: <constant>}``: the column is always this value;
- ``{lookup: {...}, otherwise: ...}``: the column's value (or, with ``from``, the field's)
  translated by the table; ``otherwise`` says what an unlisted value does;
- ``{rename: <column>}``: what the target renders as this column goes under another name;
- ``{drop: true}``: the column is not sent at all.

Keyed by target column because that is what the customer's instance names and what they ask
about ("what goes into u_code?"); one rule per column keeps every override one line of YAML.
Only the shape is checked here; whether the entity, field and column exist is checked by
``config check``, which knows the schemas and what each target renders.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

from ml_connector.connections.base import Model


def _scalar(value: Any) -> str | bool | int | float:
    if isinstance(value, str | bool | int | float):
        return value
    # YAML reads 2024-01-31 as a date and a: b as a mapping; both are one quote away.
    raise PydanticCustomError(
        "scalar", "expected text, a number or true/false (quote dates and text with colons)"
    )


# A constant as YAML gives it. One validator rather than a union, so a wrong value is one
# message, not one per member of the union.
Scalar = Annotated[
    str | bool | int | float,
    PlainValidator(_scalar, json_schema_input_type=str | bool | int | float),
]


class Constant(Model):
    """A constant, where a rule needs one besides the value it translates."""

    value: Scalar | None = Field(description="the value; null sends the column empty")


Otherwise = Literal["keep", "reject"] | Constant

_KINDS = ("from", "value", "lookup", "rename", "drop")


class FieldRule(Model):
    """One target column's override: one of from, value, lookup, rename, drop, or from+lookup.

    Keyed by the column in the target, under ``flows.<flow>.fields.<entity>``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str | None = Field(
        default=None, alias="from", min_length=1, description="the canonical field to send"
    )
    value: Scalar | None = Field(default=None, description="a constant to send")
    lookup: dict[Scalar, Scalar | None] | None = Field(
        default=None,
        description="value -> value; keys are matched as text ('' is an empty value)",
    )
    otherwise: Otherwise = Field(
        default="keep",
        description="what a value the lookup does not list does: keep (sent as it is), "
        "reject (the record is refused, to the dead-letter topic) or {value: <constant>}",
    )
    rename: str | None = Field(
        default=None, min_length=1, description="the column's new name in the target"
    )
    drop: Literal[True] | None = Field(default=None, description="true: the column is not sent")

    @model_validator(mode="after")
    def _one_kind(self) -> FieldRule:
        given = [k for k in _KINDS if k in self._given]
        if "lookup" in given and "from" in given:
            given.remove("lookup")  # from names what the lookup translates
        if len(given) != 1:
            which = " and ".join(given) if given else "none"
            raise PydanticCustomError(
                "field_rule",
                "give one of from, value, lookup, rename or drop (lookup may come with "
                "from); got {which}",
                {"which": which},
            )
        if "otherwise" in self.model_fields_set and self.lookup is None:
            raise PydanticCustomError("field_rule", "otherwise is only used with a lookup")
        return self

    @property
    def _given(self) -> set[str]:
        return {"from" if k == "source" else k for k in self.model_fields_set}

    @property
    def sets_value(self) -> bool:
        """A constant rule (``value: null`` included, which sends the column empty)."""
        return "value" in self.model_fields_set

    @property
    def removes_column(self) -> bool:
        """Drop and rename take the column as rendered out of the row."""
        return self.drop is not None or self.rename is not None


# entity -> target column -> rule
EntityFields = dict[str, FieldRule]
