"""The canonical model: one typed record per entity of ``schemas/*.avsc``, with declared
references (which field names which master, or which document a payment applies to).

The Avro schemas stay the wire contract; ``schema.avro_record`` renders a model the way its
``.avsc`` must read, and a test holds every model to its file field by field.
"""

from ml_connector.canonical.base import Canonical, Money, Reference
from ml_connector.canonical.registry import (
    DOCUMENTS,
    LINES,
    MASTERS,
    MODELS,
    REFERENCED,
    Declared,
    declared,
    key_field,
    line_model,
    model_for,
    required_fields,
)

__all__ = [
    "DOCUMENTS",
    "LINES",
    "MASTERS",
    "MODELS",
    "REFERENCED",
    "Canonical",
    "Declared",
    "Money",
    "Reference",
    "declared",
    "key_field",
    "line_model",
    "model_for",
    "required_fields",
]
