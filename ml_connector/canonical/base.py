"""What every canonical model shares: strictness, the money type, and declared references."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

# Avro decimal(19,4), the amounts of every ERP here: the constraint that validates a value is
# also what the Avro type is derived from (``schema``), so the two cannot drift apart.
Money = Annotated[Decimal, Field(max_digits=19, decimal_places=4)]


@dataclass(frozen=True)
class Reference:
    """One field of a document that names another record by that record's business key.

    ``source_id`` names the field holding the source system's own id of the record, when the
    source has one the target cannot know (a ServiceNow supplier's sys_id beside the ERP
    vendor number): resolution then goes through what the connector learned about that id.
    """

    field: str
    entity: str
    source_id: str | None = None


class Canonical(BaseModel):
    """A canonical record as the change topics carry it (``before``/``after``).

    Subclasses declare, as class attributes, the entity they are (the schema's file name),
    the field that is their business key (what other records name them by), and the
    references they make: to masters, or (a payment) to the document they apply to.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: ClassVar[str] = ""
    key: ClassVar[str] = "number"
    references: ClassVar[tuple[Reference, ...]] = ()
