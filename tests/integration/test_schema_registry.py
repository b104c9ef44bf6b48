"""Confluent wire format against a real registry, which enforces BACKWARD evolution."""

from __future__ import annotations

import json
import struct
import uuid
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

import schemas
from ml_connector.avro import AvroCodec, RegistryCatalog
from ml_connector.topics import value_subject


def test_values_use_the_confluent_wire_format(
    registry_url: str, vendor_event: dict[str, Any]
) -> None:
    topic = f"mlc.t{uuid.uuid4().hex[:6]}.vendor"
    data = AvroCodec(RegistryCatalog(registry_url)).encode(topic, "vendor", vendor_event)
    assert data[0] == 0
    (schema_id,) = struct.unpack(">I", data[1:5])
    client = SchemaRegistryClient({"url": registry_url})
    registered = client.get_latest_version(value_subject(topic))
    assert registered.schema_id == schema_id
    # A fresh codec (another process, a subscriber) decodes by the id alone.
    decoded = AvroCodec(RegistryCatalog(registry_url)).decode("vendor", data)
    assert decoded["after"]["number"] == "V1"


def test_registry_refuses_a_breaking_change(registry_url: str) -> None:
    client = SchemaRegistryClient({"url": registry_url})
    subject = f"mlc.t{uuid.uuid4().hex[:6]}.vendor-value"
    current = schemas.value_schema("vendor")
    client.register_schema(subject, Schema(json.dumps(current), "AVRO"))

    grown = json.loads(json.dumps(current))
    grown["fields"][0]["type"][1]["fields"].append(
        {"name": "rating", "type": ["null", "int"], "default": None}
    )
    client.register_schema(subject, Schema(json.dumps(grown), "AVRO"))

    broken = json.loads(json.dumps(grown))
    broken["fields"][0]["type"][1]["fields"].append({"name": "tier", "type": "string"})
    with pytest.raises(SchemaRegistryError) as info:
        client.register_schema(subject, Schema(json.dumps(broken), "AVRO"))
    assert info.value.http_status_code == 409
