"""F&O's metadata service: ``/Metadata/DataEntities``, ``/Metadata/PublicEntities`` and their
per-entity look-ups (``/Metadata/PublicEntities('VendorV2')``).

Documented in "Metadata service" (data-entities/metadata-service.md): a read-only OData
service beside ``/data`` that describes each data entity (its internal name, public entity
and collection names, category, read-only flag) and each public entity (properties with key,
mandatory and edit flags, navigation properties with their constraints). Built from the
entity definitions, so it describes what ``/data`` serves. Query options on it are refused
(400) rather than ignored, since the simulator does not implement them here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.finance_operations.entities import EntityDef
from simulators.odata import Kind

# Internal data entity names are UNCONFIRMED for some (apis.md): F&O's AOT names them so.
DATA_ENTITY_NAMES = {
    "VendorsV2": "VendVendorV2Entity",
    "PurchaseOrderHeadersV2": "PurchPurchaseOrderHeaderV2Entity",
    "PurchaseOrderLinesV2": "PurchPurchaseOrderLineV2Entity",
    "VendorInvoiceHeaders": "VendorInvoiceHeaderEntity",
    "VendorInvoiceLines": "VendorInvoiceLineEntity",
    "MainAccounts": "MainAccountEntity",
}
_CATEGORY = {"VendorsV2": "Master", "MainAccounts": "Master"}
_DATA_TYPE = {
    Kind.STRING: "String",
    Kind.GUID: "Guid",
    Kind.ENUM: "Enum",
    Kind.DATETIME: "DateTime",
    Kind.DATE: "Date",
    Kind.DECIMAL: "Real",
    Kind.INTEGER: "Int",
    Kind.BOOLEAN: "Enum",
}

Render = Callable[[EntityDef], dict[str, Any]]
KeyOf = Callable[[EntityDef], str]
Authed = Callable[[Callable[[Request], Any]], Callable[[Request], Any]]


def _data_entity(entity: EntityDef) -> dict[str, Any]:
    return {
        "Name": DATA_ENTITY_NAMES.get(entity.name, f"{entity.type_name}Entity"),
        "PublicEntityName": entity.type_name,
        "PublicCollectionName": entity.name,
        "LabelId": entity.label,
        "DataServiceEnabled": True,
        "DataManagementEnabled": True,
        "EntityCategory": _CATEGORY.get(entity.name, "Document"),
        "IsReadOnly": False,
    }


def _public_entity(entity: EntityDef, fields: Mapping[str, Kind]) -> dict[str, Any]:
    properties = []
    for name, kind in fields.items():
        enum = entity.enums.get(name)
        properties.append(
            {
                "Name": name,
                "TypeName": enum[0] if enum else _DATA_TYPE.get(kind, "String"),
                "DataType": _DATA_TYPE.get(kind, "String"),
                "LabelId": name,
                "IsKey": name in entity.key,
                "IsMandatory": name in entity.key,
                "ConfigurationEnabled": True,
                "AllowEdit": name not in entity.key,
                "AllowEditOnCreate": True,
                "IsDimension": False,
            }
        )
    navigation = [
        {
            "Name": name,
            "RelatedEntity": nav.target,
            "Cardinality": "ZeroMore" if nav.many else "ZeroOne",
            "Constraints": [
                {
                    "@odata.type": "#Microsoft.Dynamics.Metadata.ReferentialConstraint",
                    "Property": own,
                    "RelatedProperty": related,
                }
                for own, related in nav.pairs
            ],
        }
        for name, nav in entity.navigation.items()
    ]
    return {
        "Name": entity.type_name,
        "EntitySetName": entity.name,
        "LabelId": entity.label,
        "IsReadOnly": False,
        "ConfigurationEnabled": True,
        "Properties": properties,
        "NavigationProperties": navigation,
        "PropertyGroups": [],
        "Actions": [],
    }


def _not_found(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": "",
                "message": f"No HTTP resource was found that matches the request URI "
                f"'{request.url}'.",
            }
        },
        404,
    )


def metadata_routes(
    entities: Iterable[EntityDef], fields: Mapping[str, Mapping[str, Kind]], authed: Authed
) -> list[Route]:
    entities = list(entities)
    collections: dict[
        str, tuple[Callable[[EntityDef], dict[str, Any]], Callable[[EntityDef], str]]
    ] = {
        "DataEntities": (_data_entity, lambda e: _data_entity(e)["Name"]),
        "PublicEntities": (lambda e: _public_entity(e, fields[e.name]), lambda e: e.type_name),
    }

    async def serve(request: Request) -> Response:
        if any(k.startswith("$") for k in request.query_params):
            return JSONResponse(
                {
                    "error": {
                        "code": "",
                        "message": "Query options on the metadata service are "
                        "not supported by this simulator.",
                    }
                },
                400,
            )
        segment = request.path_params["segment"]
        name, paren, key = segment.partition("(")
        if name not in collections:
            return _not_found(request)
        render, key_of = collections[name]
        base = f"{str(request.base_url).rstrip('/')}/Metadata/$metadata#{name}"
        if not paren:
            return JSONResponse({"@odata.context": base, "value": [render(e) for e in entities]})
        wanted = key.removesuffix(")").strip("'")
        match = next((e for e in entities if key_of(e).lower() == wanted.lower()), None)
        if match is None or not key.endswith(")"):
            return _not_found(request)
        return JSONResponse({"@odata.context": f"{base}/$entity", **render(match)})

    return [Route("/Metadata/{segment}", authed(serve), methods=["GET"])]
