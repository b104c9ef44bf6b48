"""``GET /entity/{endpoint}/{version}/swagger.json``: the endpoint's OpenAPI 2.0 description.

Acumatica generates it per contract-based endpoint and version ("Integration Development Guide",
"To Generate the OpenAPI Description"); clients and code generators load it at start-up.
Built from the entity definitions, so it always describes what this simulator serves: every
field as a ``{"value": ...}`` wrapper type (StringValue, DecimalValue, ...), detail
collections, the list/get/put/delete paths with their query options, and the actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from simulators.acumatica.entities import EntityDef, LinkedDef
from simulators.odata import Kind

_WRAPPERS = {
    Kind.STRING: ("StringValue", {"type": "string"}),
    Kind.DECIMAL: ("DecimalValue", {"type": "number", "format": "double"}),
    Kind.INTEGER: ("IntValue", {"type": "integer", "format": "int32"}),
    Kind.BOOLEAN: ("BooleanValue", {"type": "boolean"}),
    Kind.DATETIME: ("DateTimeValue", {"type": "string", "format": "date-time"}),
}
_QUERY = [
    ("$select", "Fields to return, comma-separated."),
    ("$filter", "An OData v3 filter, e.g. LastModifiedDateTime gt datetimeoffset'...'."),
    ("$expand", "Detail and linked entities to return, comma-separated."),
    ("$custom", "Custom fields to return."),
    ("$skip", "Records to skip."),
    ("$top", "Records to return at most."),
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


def _properties(fields: Mapping[str, Kind]) -> dict[str, Any]:
    return {
        name: _ref(_WRAPPERS.get(kind, _WRAPPERS[Kind.STRING])[0]) for name, kind in fields.items()
    }


def _linked_definitions(definitions: dict[str, Any], definition: LinkedDef) -> None:
    """A linked entity's type (Contact, Address) and those it links to, each once."""
    properties = _properties(definition.fields)
    for name, nested in definition.linked.items():
        _linked_definitions(definitions, nested)
        properties[name] = _ref(nested.type_name)
    definitions[definition.type_name] = {
        "allOf": [_ref("Entity"), {"type": "object", "properties": properties}]
    }


def _definitions(entities: Iterable[EntityDef]) -> dict[str, Any]:
    definitions: dict[str, Any] = {
        "Entity": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "rowNumber": {"type": "integer", "format": "int64"},
                "note": _ref("StringValue"),
                "custom": {"type": "object"},
                "_links": {"type": "object"},
            },
        },
        **{
            wrapper: {"type": "object", "properties": {"value": schema}}
            for wrapper, schema in _WRAPPERS.values()
        },
    }
    for entity in entities:
        properties = _properties(entity.fields)
        for name, definition in entity.linked.items():
            _linked_definitions(definitions, definition)
            properties[name] = _ref(definition.type_name)
        for name, fields in entity.details.items():
            line_type = f"{entity.name}{name}"
            definitions[line_type] = {
                "allOf": [_ref("Entity"), {"type": "object", "properties": _properties(fields)}]
            }
            properties[name] = {"type": "array", "items": _ref(line_type)}
        definitions[entity.name] = {
            "allOf": [_ref("Entity"), {"type": "object", "properties": properties}]
        }
    return definitions


def _query_parameters() -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "query", "required": False, "type": "string", "description": d}
        for n, d in _QUERY
    ]


def _paths(entities: Iterable[EntityDef], actions: Iterable[tuple[str, str]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    done = {"200": {"description": "Success"}}
    for entity in entities:
        tag, schema = [entity.name], _ref(entity.name)
        body = {"name": "entity", "in": "body", "required": True, "schema": schema}
        paths[f"/{entity.name}"] = {
            "get": {
                "tags": tag,
                "operationId": f"{entity.name}_GetList",
                "parameters": _query_parameters(),
                "responses": {
                    "200": {"description": "Success", "schema": {"type": "array", "items": schema}}
                },
            },
            "put": {
                "tags": tag,
                "operationId": f"{entity.name}_PutEntity",
                "parameters": [body, *_query_parameters()[:3]],
                "responses": {
                    "200": {"description": "Success", "schema": schema},
                    "412": {"description": "Not updated: If-Match: * and no match"},
                    "422": {"description": "Validation failed"},
                },
            },
        }
        by_id = {"name": "id", "in": "path", "required": True, "type": "string", "format": "uuid"}
        paths[f"/{entity.name}/{{id}}"] = {
            "get": {
                "tags": tag,
                "operationId": f"{entity.name}_GetById",
                "parameters": [by_id, *_query_parameters()[:4]],
                "responses": {"200": {"description": "Success", "schema": schema}},
            },
            "delete": {
                "tags": tag,
                "operationId": f"{entity.name}_DeleteById",
                "parameters": [by_id],
                "responses": {"204": {"description": "Deleted"}},
            },
        }
    for entity_name, action in actions:
        invocation = {
            "name": "invokeAction",
            "in": "body",
            "required": True,
            "schema": {
                "type": "object",
                "properties": {"entity": _ref(entity_name), "parameters": {"type": "object"}},
            },
        }
        paths[f"/{entity_name}/{action}"] = {
            "post": {
                "tags": [entity_name],
                "operationId": f"{entity_name}_InvokeAction_{action}",
                "parameters": [invocation],
                "responses": {
                    **done,
                    "202": {"description": "Accepted; poll the Location header"},
                    "204": {"description": "Done"},
                },
            }
        }
    return paths


def swagger(
    endpoint: str,
    version: str,
    host: str,
    entities: Iterable[EntityDef],
    actions: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    entities = list(entities)
    return {
        "swagger": "2.0",
        "info": {"title": f"{endpoint}/{version}", "version": version},
        "host": host,
        "basePath": f"/entity/{endpoint}/{version}",
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": _paths(entities, actions),
        "definitions": _definitions(entities),
        "securityDefinitions": {
            "Bearer": {"type": "apiKey", "name": "Authorization", "in": "header"},
            "Cookies": {"type": "apiKey", "name": "Cookie", "in": "header"},
        },
        "security": [{"Bearer": []}, {"Cookies": []}],
    }
