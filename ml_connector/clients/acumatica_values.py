"""Acumatica's value-wrapped fields: ``{"VendorID": {"value": "V1"}}`` on the wire.

Everything above the client works with plain records; these two functions are the only place
that knows the wrapping. Detail lines (lists of records) are wrapped and unwrapped in turn;
``id``, ``rowNumber``, ``custom``, ``note`` and ``_links`` are envelope, not fields.
"""

from __future__ import annotations

from ml_connector.records import Record

ENVELOPE = frozenset({"id", "rowNumber", "custom", "note", "_links", "files", "delete"})


def wrap(record: Record) -> Record:
    out: Record = {}
    for name, value in record.items():
        if name in ENVELOPE:
            out[name] = value
        elif isinstance(value, list):
            out[name] = [wrap(line) for line in value]
        else:
            out[name] = {"value": value}
    return out


def unwrap(record: Record) -> Record:
    out: Record = {}
    for name, value in record.items():
        if name in ("custom", "_links", "files"):
            continue
        if isinstance(value, dict) and "value" in value:
            out[name] = value["value"]
        elif isinstance(value, list):
            out[name] = [unwrap(line) if isinstance(line, dict) else line for line in value]
        elif isinstance(value, dict) and not value:
            out[name] = None  # a field the instance renders as {} has no value
        else:
            out[name] = value
    return out
