"""The one shape a system's API record has before it is mapped: a JSON object.

Records cross from the HTTP clients into the producers' mappers and the sinks' renderers
untyped on purpose: each system names its fields differently, and the typed models start at
the canonical entity (``schemas/``). One alias keeps the boundary visible and greppable.
"""

from __future__ import annotations

from typing import Any, TypeAlias

Record: TypeAlias = dict[str, Any]
