"""Reads template.yaml the way `sam local` does: functions, their code, handler, HTTP routes
and environment, so the local stack serves exactly what the template declares."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_INTRINSIC_SHORT_FORMS = {"Ref": "Ref", "Condition": "Condition"}


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt ...) as plain mappings."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _INTRINSIC_SHORT_FORMS.get(suffix, f"Fn::{suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, f"unexpected !{suffix}", node.start_mark
        )
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        document: dict[str, Any] = yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    return document


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str  # API Gateway syntax: /v1/syncs/{sync_id}

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves the request, else None."""
        if method.upper() != self.method:
            return None
        pattern = "^" + re.sub(r"\{([A-Za-z0-9_]+)\}", r"(?P<\1>[^/]+)", self.path) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, Any] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    event_types: tuple[str, ...] = ()


def _arn_references(value: Any) -> set[str]:
    """Logical ids of every ``!GetAtt X.Arn`` in ``value``, in any ``Fn::If`` branch."""
    found: set[str] = set()
    if isinstance(value, dict):
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute[1:] == ["Arn"]:
            found.add(str(attribute[0]))
        for item in value.values():
            found |= _arn_references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _arn_references(item)
    return found


def _notified_by_buckets(resources: Mapping[str, Any]) -> set[str]:
    """Functions that receive S3 notifications: those a bucket's NotificationConfiguration
    names, and those fed by an event source mapping of a queue a bucket notifies.

    Whatever the template's ProcessingMode, the local stack delivers them directly (S3's event
    shape), as its notification pump always has."""
    notified: set[str] = set()
    for resource in resources.values():
        if resource.get("Type") == "AWS::S3::Bucket":
            configuration = resource.get("Properties", {}).get("NotificationConfiguration", {})
            notified |= _arn_references(configuration)
    for resource in resources.values():
        if resource.get("Type") == "AWS::Lambda::EventSourceMapping":
            mapping = resource.get("Properties", {})
            function = mapping.get("FunctionName", {})
            if _arn_references(mapping.get("EventSourceArn")) & notified and "Ref" in function:
                notified.add(str(function["Ref"]))
    return notified


def functions(template: Mapping[str, Any], root: Path) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function, with Globals applied."""
    defaults = template.get("Globals", {}).get("Function", {})
    notified = _notified_by_buckets(template.get("Resources", {}))
    specs = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource.get("Properties", {})}
        environment = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
        }
        events = resource.get("Properties", {}).get("Events", {}) or {}
        routes = tuple(
            Route(event["Properties"]["Method"].upper(), event["Properties"]["Path"])
            for event in events.values()
            if event.get("Type") == "HttpApi"
        )
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=(root / properties["CodeUri"]).resolve(),
            handler=properties["Handler"],
            timeout_s=int(properties.get("Timeout", 3)),
            memory_mb=int(properties.get("MemorySize", 128)),
            environment=environment,
            routes=routes,
            event_types=tuple(
                sorted(
                    {event.get("Type", "") for event in events.values()}
                    | ({"S3"} if logical_id in notified else set())
                )
            ),
        )
    return specs


def resolve_environment(
    environment: Mapping[str, Any], references: Mapping[str, str]
) -> dict[str, str]:
    """The variables whose values resolve locally: literals, and !Ref / !GetAtt / !FindInMap /
    !Sub of names in ``references``. Variables that cannot resolve are left out, for the caller to
    supply (the settings model then names anything still missing)."""
    resolved = {}
    for name, value in environment.items():
        local = _resolve(value, references)
        if local is not None:
            resolved[name] = local
    return resolved


def _resolve(value: Any, references: Mapping[str, str]) -> str | None:
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return references.get(str(argument))
        if function == "Fn::Sub" and isinstance(argument, str):
            missing = [
                name for name in re.findall(r"\$\{([^}]+)\}", argument) if name not in references
            ]
            if missing:
                return None
            return re.sub(r"\$\{([^}]+)\}", lambda match: references[match[1]], argument)
        if function == "Fn::FindInMap":
            return references.get(f"FindInMap:{argument[0]}:{argument[2]}")
        if function == "Fn::GetAtt" and isinstance(argument, list):
            return references.get(".".join(str(part) for part in argument))
    return None
