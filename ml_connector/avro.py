"""Avro values for change topics: fastavro bodies behind a schema catalog's header.

Two wire formats, chosen by where schemas live:
- Confluent wire format (magic 0x00 + 4-byte schema id) with a Schema Registry, subjects by
  TopicNameStrategy. This is what subscribers' standard deserializers expect.
- Avro single-object encoding (C3 01 + CRC-64-AVRO fingerprint) with the schemas published to a
  compacted topic, for deployments with no registry at all.
Readers resolve the writer's schema against the current one, so older events stay readable.
"""

from __future__ import annotations

import io
import json
import struct
import threading
from typing import Any, Protocol

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

import schemas
from ml_connector import kafka_security as security
from ml_connector.config import KafkaConfig
from ml_connector.state import CompactedTopic
from ml_connector.topics import value_subject

Parsed = Any  # fastavro's parsed schema


class SchemaCatalog(Protocol):
    """Turns a schema into a wire header and a header back into the writer's schema."""

    def header_for(self, subject: str, schema: dict[str, Any]) -> bytes: ...

    def writer_schema(self, data: bytes) -> tuple[Parsed, int]:
        """The writer schema of an encoded value and the length of its header."""
        ...


class RegistryCatalog:
    """Confluent wire format against a Confluent-compatible Schema Registry."""

    MAGIC = b"\x00"

    def __init__(self, url: str) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        # Basic auth and the registry's CA come with the process's Kafka access.
        self._client = SchemaRegistryClient({"url": url, **security.current().registry})
        self._ids: dict[tuple[str, str], int] = {}
        self._by_id: dict[int, Parsed] = {}
        self._lock = threading.Lock()

    def header_for(self, subject: str, schema: dict[str, Any]) -> bytes:
        from confluent_kafka.schema_registry import Schema

        text = json.dumps(schema, sort_keys=True)
        key = (subject, text)
        with self._lock:
            if key not in self._ids:
                self._ids[key] = self._client.register_schema(subject, Schema(text, "AVRO"))
            schema_id = self._ids[key]
        return self.MAGIC + struct.pack(">I", schema_id)

    def writer_schema(self, data: bytes) -> tuple[Parsed, int]:
        if len(data) < 5 or data[:1] != self.MAGIC:
            raise ValueError("not Confluent wire format (magic byte 0 missing)")
        (schema_id,) = struct.unpack(">I", data[1:5])
        with self._lock:
            if schema_id not in self._by_id:
                text = self._client.get_schema(schema_id).schema_str
                self._by_id[schema_id] = fastavro.parse_schema(json.loads(text or "{}"))
            return self._by_id[schema_id], 5


def single_object_fingerprint(schema: dict[str, Any]) -> bytes:
    """8-byte little-endian CRC-64-AVRO of the Parsing Canonical Form (Avro spec)."""
    canonical = to_parsing_canonical_form(fastavro.parse_schema(schema))
    return int(fingerprint(canonical, "CRC-64-AVRO"), 16).to_bytes(8, "little")


class SingleObjectCatalog:
    """Avro single-object encoding; schemas published to a compacted topic by fingerprint.

    For deployments without a registry. Readers look an unknown fingerprint up in the topic,
    so any process (or subscriber) can decode what any other wrote.
    """

    MARKER = b"\xc3\x01"

    def __init__(self, store: CompactedTopic) -> None:
        self._store = store
        self._published: set[bytes] = set()
        self._by_print: dict[bytes, Parsed] = {}
        self._lock = threading.Lock()

    def header_for(self, subject: str, schema: dict[str, Any]) -> bytes:
        fp = single_object_fingerprint(schema)
        with self._lock:
            if fp not in self._published:
                self._store.put(fp.hex(), json.dumps(schema, sort_keys=True).encode())
                self._published.add(fp)
        return self.MARKER + fp

    def writer_schema(self, data: bytes) -> tuple[Parsed, int]:
        if len(data) < 10 or data[:2] != self.MARKER:
            raise ValueError("not Avro single-object encoding (marker C3 01 missing)")
        fp = data[2:10]
        with self._lock:
            if fp not in self._by_print:
                for key, text in self._store.read_all().items():
                    self._by_print[bytes.fromhex(key)] = fastavro.parse_schema(json.loads(text))
            if fp not in self._by_print:
                raise ValueError(f"no schema with fingerprint {fp.hex()} has been published")
            return self._by_print[fp], 10


class AvroCodec:
    """Encodes and decodes envelopes of one entity per topic."""

    def __init__(self, catalog: SchemaCatalog) -> None:
        self.catalog = catalog
        self._current: dict[str, tuple[dict[str, Any], Parsed]] = {}
        # Per (subject, entity): the header, asked of the catalog once rather than serialising
        # the whole schema on every encode.
        self._headers: dict[tuple[str, str], bytes] = {}
        # Per (entity, writer schema): the reader schema to resolve against, or None when the
        # writer's is the current one, which fastavro would otherwise compare on every decode.
        self._readers: dict[tuple[str, int], tuple[Parsed, Parsed | None]] = {}
        self._lock = threading.Lock()

    def _schema(self, entity: str) -> tuple[dict[str, Any], Parsed]:
        if entity not in self._current:
            raw = schemas.value_schema(entity)
            self._current[entity] = (raw, fastavro.parse_schema(raw))
        return self._current[entity]

    def _header(self, topic: str, entity: str) -> bytes:
        subject = value_subject(topic)
        header = self._headers.get((subject, entity))
        if header is None:
            header = self.catalog.header_for(subject, self._schema(entity)[0])
            with self._lock:
                self._headers[(subject, entity)] = header
        return header

    def _reader(self, entity: str, writer: Parsed) -> Parsed | None:
        # The catalog keeps each writer schema it parsed, so its id names it for good.
        found = self._readers.get((entity, id(writer)))
        if found is None:
            _, current = self._schema(entity)
            found = (writer, None if writer == current else current)
            with self._lock:
                self._readers[(entity, id(writer))] = found
        return found[1]

    def encode(self, topic: str, entity: str, value: dict[str, Any]) -> bytes:
        header = self._header(topic, entity)
        buf = io.BytesIO()
        buf.write(header)
        fastavro.schemaless_writer(buf, self._schema(entity)[1], value)
        return buf.getvalue()

    def decode(self, entity: str, data: bytes) -> dict[str, Any]:
        writer, offset = self.catalog.writer_schema(data)
        reader = self._reader(entity, writer)
        buf = io.BytesIO(data)
        buf.seek(offset)
        result = fastavro.schemaless_reader(buf, writer, reader)
        if not isinstance(result, dict):
            raise ValueError(f"{entity}: the value is not an Avro record")
        return result


def make_codec(registry_url: str | None, bootstrap: str, schemas_topic: str) -> AvroCodec:
    """Confluent wire format when a registry is configured, single-object encoding if not."""
    if registry_url:
        return AvroCodec(RegistryCatalog(registry_url))
    return AvroCodec(SingleObjectCatalog(CompactedTopic(bootstrap, schemas_topic)))


class MissingRegistry(ValueError):
    """The Confluent wire format needs a registry, and none is configured."""


def codec_for(kafka: KafkaConfig, bootstrap: str) -> AvroCodec:
    """The codec the configuration asks for; never a silent switch of encoding, which
    subscribers' stock deserializers could not read."""
    if kafka.encoding == "single-object":
        return make_codec(None, bootstrap, kafka.topics.schemas)
    if not kafka.schema_registry_url:
        raise MissingRegistry(
            "kafka.schema_registry_url (or SCHEMA_REGISTRY_URL) is required; set "
            "kafka.encoding: single-object to run without a registry"
        )
    return make_codec(kafka.schema_registry_url, bootstrap, kafka.topics.schemas)
