"""F&O's OData actions: ``POST /data/{EntitySet}/Microsoft.Dynamics.DataEntities.{Action}``.

Documented in "Open Data Protocol (OData)" (data-entities/odata.md): an action is a method on a
data entity marked ``SysODataActionAttribute``; it is listed in ``$metadata`` as
``<Action IsBound="true">`` with the binding parameter first, and is invoked from the service
root with a POST whose JSON body carries the other parameters. A value comes back as
``{"@odata.context": ".../$metadata#Edm.String", "value": ...}`` (as the data management
package API documents for its actions); an action with no return type answers 204.

Actions are data (``ActionDef``) so ``$metadata`` and the dispatcher read the same list. An
action the service does not define, or one addressed on a set it is not bound to, is a 404
like any unknown resource; a body with a missing, unknown or mistyped parameter is a 400.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from simulators.finance_operations.entities import NAMESPACE
from simulators.finance_operations.options import FinanceOperationsOptions
from simulators.odata import Kind, ODataError

Run = Callable[[FinanceOperationsOptions, Mapping[str, Any]], Any]

_JSON_TYPES: dict[Kind, tuple[type, ...]] = {
    Kind.STRING: (str,),
    Kind.INTEGER: (int,),
    Kind.BOOLEAN: (bool,),
    Kind.DECIMAL: (int, float),
}


@dataclass(frozen=True)
class ActionDef:
    """An action bound to an entity set (``BoundToEntitySet``)."""

    name: str
    entity_set: str
    binding_type: str  # the entity type of the set, named in the binding parameter
    run: Run
    parameters: Mapping[str, Kind]
    returns: Kind | None = Kind.STRING

    @property
    def qualified_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    def arguments(self, body: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - set(self.parameters))
        if unknown:
            raise ODataError(
                f"The parameter '{unknown[0]}' in the request payload is not a valid parameter "
                f"for the operation '{self.name}'."
            )
        values: dict[str, Any] = {}
        for name, kind in self.parameters.items():
            if name not in body or body[name] is None:
                raise ODataError(
                    f"The parameter '{name}' of the operation '{self.name}' is missing."
                )
            value = body[name]
            wanted = _JSON_TYPES.get(kind, (str,))
            # bool is an int in Python; a JSON true is not an Edm.Int64.
            if not isinstance(value, wanted) or (kind is not Kind.BOOLEAN and value is True):
                raise ODataError(
                    f"Cannot convert the value of parameter '{name}' to the type '{kind.value}'."
                )
            values[name] = value
        return values


def action_xml(action: ActionDef) -> str:
    binding = f"Collection({NAMESPACE}.{action.binding_type})"
    params = "".join(
        f"<Parameter Name={quoteattr(n)} Type={quoteattr(k.value)}/>"
        for n, k in action.parameters.items()
    )
    returns = f'<ReturnType Type="{action.returns.value}"/>' if action.returns else ""
    return (
        f'<Action Name="{action.name}" IsBound="true">'
        f'<Parameter Name="{action.binding_type}" Type="{binding}"/>{params}{returns}</Action>'
    )


# The version look-ups every F&O environment answers on its data management entities; tools
# call them to learn what they talk to before anything else.
ACTIONS: tuple[ActionDef, ...] = (
    ActionDef("GetApplicationVersion", "DataManagementEntities", "DataManagementEntity",
              lambda options, _args: options.application_version, {}),
    ActionDef("GetPlatformBuildVersion", "DataManagementEntities", "DataManagementEntity",
              lambda options, _args: options.platform_build_version, {}),
    # The package API's status look-up (data-management-api.md). The simulator runs no data
    # projects, so every execution id is one it does not know: "Unknown" is what F&O answers.
    ActionDef("GetExecutionSummaryStatus", "DataManagementDefinitionGroups",
              "DataManagementDefinitionGroup", lambda _options, _args: "Unknown",
              {"executionId": Kind.STRING}),
)  # fmt: skip

# Binding types that are not among the served entities are declared in ``$metadata`` with
# their key only, so a client that validates the model finds every type an action names.
BINDING_KEYS = {"DataManagementEntity": "EntityName", "DataManagementDefinitionGroup": "Name"}


def binding_types_xml() -> str:
    return "".join(
        f'<EntityType Name="{name}"><Key><PropertyRef Name="{key}"/></Key>'
        f'<Property Name="{key}" Type="Edm.String" Nullable="false"/></EntityType>'
        for name, key in BINDING_KEYS.items()
    )


def find_action(entity_set: str, segment: str) -> ActionDef | None:
    return next(
        (a for a in ACTIONS if a.entity_set == entity_set and a.qualified_name == segment), None
    )
