"""``$metadata``: the EDMX (CSDL XML) document describing the entity sets the simulator serves.

Generic OData clients and code generators read it to learn types, keys and actions, so it is
built from the same ``EntitySetDef`` list that drives the routes and cannot drift from them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from simulators.business_central.entities import ENTITY_SETS, EntitySetDef, children_of
from simulators.odata import Kind

EDMX_NS = "http://docs.oasis-open.org/odata/ns/edmx"
EDM_NS = "http://docs.oasis-open.org/odata/ns/edm"
NAMESPACE = "Microsoft.NAV"


def _enum_name(definition: EntitySetDef, field: str) -> str:
    return f"{definition.type_name}{field[0].upper()}{field[1:]}"


def _type_of(definition: EntitySetDef, field: str, kind: Kind) -> str:
    if kind is Kind.ENUM:
        return f"{NAMESPACE}.{_enum_name(definition, field)}"
    return kind.value


def _type_name(entity_set: str) -> str:
    return next(d.type_name for d in ENTITY_SETS if d.name == entity_set)


def _entity_type(schema: ET.Element, definition: EntitySetDef) -> None:
    entity = ET.SubElement(schema, "EntityType", Name=definition.type_name)
    key = ET.SubElement(entity, "Key")
    ET.SubElement(key, "PropertyRef", Name="id")
    for field, kind in definition.fields.items():
        attrs = {"Name": field, "Type": _type_of(definition, field, kind)}
        if field == "id":
            attrs["Nullable"] = "false"
        ET.SubElement(entity, "Property", attrs)
    for stream in definition.streams:
        ET.SubElement(entity, "Property", Name=stream, Type="Edm.Stream")
    for child in children_of(definition.name):
        ET.SubElement(
            entity,
            "NavigationProperty",
            Name=child.name,
            Type=f"Collection({NAMESPACE}.{child.type_name})",
            ContainsTarget="true",
        )
    for name, (target, _) in definition.lookups.items():
        ET.SubElement(
            entity, "NavigationProperty", Name=name, Type=f"{NAMESPACE}.{_type_name(target)}"
        )
    for field, members in definition.enums.items():
        if definition.fields.get(field) is not Kind.ENUM:
            continue
        enum = ET.SubElement(schema, "EnumType", Name=_enum_name(definition, field))
        for value, member in enumerate(members):
            name = member.strip().replace(" ", "_x0020_").replace("-", "_x002D_") or "_x0020_"
            ET.SubElement(enum, "Member", Name=name, Value=str(value))


def plain_type(
    schema: ET.Element, name: str, key: str | tuple[str, ...], *properties: tuple[str, str]
) -> ET.Element:
    """An entity type that is not an entity set definition (companies, subscriptions, pages)."""
    entity = ET.SubElement(schema, "EntityType", Name=name)
    key_element = ET.SubElement(entity, "Key")
    for part in (key,) if isinstance(key, str) else key:
        ET.SubElement(key_element, "PropertyRef", Name=part)
    for prop, kind in properties:
        ET.SubElement(entity, "Property", Name=prop, Type=kind)
    return entity


def _company_type(schema: ET.Element, top_level: Iterable[EntitySetDef]) -> None:
    company = plain_type(
        schema,
        "company",
        "id",
        ("id", "Edm.Guid"),
        ("systemVersion", "Edm.String"),
        ("timestamp", "Edm.Int64"),
        ("name", "Edm.String"),
        ("displayName", "Edm.String"),
        ("businessProfileId", "Edm.String"),
        ("systemCreatedAt", "Edm.DateTimeOffset"),
        ("systemCreatedBy", "Edm.Guid"),
        ("systemModifiedAt", "Edm.DateTimeOffset"),
        ("systemModifiedBy", "Edm.Guid"),
    )
    for definition in top_level:
        ET.SubElement(
            company,
            "NavigationProperty",
            Name=definition.name,
            Type=f"Collection({NAMESPACE}.{definition.type_name})",
            ContainsTarget="true",
        )


def _subscription_type(schema: ET.Element) -> None:
    plain_type(
        schema,
        "subscription",
        "subscriptionId",
        ("subscriptionId", "Edm.String"),
        ("notificationUrl", "Edm.String"),
        ("resource", "Edm.String"),
        ("timestamp", "Edm.Int64"),
        ("userId", "Edm.Guid"),
        ("lastModifiedDateTime", "Edm.DateTimeOffset"),
        ("clientState", "Edm.String"),
        ("expirationDateTime", "Edm.DateTimeOffset"),
        ("systemCreatedAt", "Edm.DateTimeOffset"),
        ("systemCreatedBy", "Edm.Guid"),
        ("systemModifiedAt", "Edm.DateTimeOffset"),
        ("systemModifiedBy", "Edm.Guid"),
    )


def metadata_xml(definitions: Iterable[EntitySetDef], *, subscriptions: bool = True) -> bytes:
    definitions = list(definitions)
    root = ET.Element("edmx:Edmx", {"Version": "4.0", "xmlns:edmx": EDMX_NS})
    services = ET.SubElement(root, "edmx:DataServices")
    schema = ET.SubElement(
        services, "Schema", {"Namespace": NAMESPACE, "Alias": "NAV", "xmlns": EDM_NS}
    )
    for definition in definitions:
        _entity_type(schema, definition)
    _company_type(schema, definitions)
    if subscriptions:
        _subscription_type(schema)
    for definition in definitions:
        for action in definition.actions:
            element = ET.SubElement(schema, "Action", Name=action, IsBound="true")
            ET.SubElement(
                element,
                "Parameter",
                Name="bindingParameter",
                Type=f"{NAMESPACE}.{definition.type_name}",
            )
    container = ET.SubElement(schema, "EntityContainer", Name="NAV")
    companies = ET.SubElement(
        container, "EntitySet", Name="companies", EntityType=f"{NAMESPACE}.company"
    )
    for definition in definitions:
        ET.SubElement(
            companies, "NavigationPropertyBinding", Path=definition.name, Target=definition.name
        )
    for definition in definitions:
        ET.SubElement(
            container,
            "EntitySet",
            Name=definition.name,
            EntityType=f"{NAMESPACE}.{definition.type_name}",
        )
    if subscriptions:
        ET.SubElement(
            container, "EntitySet", Name="subscriptions", EntityType=f"{NAMESPACE}.subscription"
        )
    return (
        b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode").encode()
    )
