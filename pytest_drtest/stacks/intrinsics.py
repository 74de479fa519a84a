"""CloudFormation intrinsic functions and conditions, resolved for one regional deployment.

The functions of the CloudFormation user guide, "Intrinsic function reference"
([CFN-UG:intrinsic-function-reference]): ``Ref`` (parameters, pseudo parameters, resources),
``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::GetAZs``,
``Fn::FindInMap``, ``Fn::If``, ``Fn::Base64`` and the condition functions ``Fn::Equals``,
``Fn::Not``, ``Fn::And``, ``Fn::Or``. ``Fn::ImportValue``, ``Fn::Transform`` and the others need
the CloudFormation service (exports, macros): they are refused with the path where they appear.

A resource that does not exist yet resolves to a :class:`Pending` value, so that a whole template
can be checked before anything is created.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_drtest.errors import DrConfigError

FUNCTIONS = ("Ref", "Condition", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::GetAZs",
             "Fn::FindInMap", "Fn::If", "Fn::Base64", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or")
PSEUDO = ("AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::StackId", "AWS::Partition", "AWS::URLSuffix",
          "AWS::NoValue", "AWS::NotificationARNs")
_SUB = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Pending:
    """The value of a resource's Ref or attribute before the resource exists."""

    logical: str
    attribute: str = ""

    def __str__(self) -> str:
        return f"<{self.logical}{'.' + self.attribute if self.attribute else ''}>"


class _NoValue:
    """``Ref: AWS::NoValue``: the property is removed."""


NO_VALUE = _NoValue()


@dataclass
class Scope:
    """What one regional deployment resolves against."""

    source: str
    body: dict[str, Any]
    parameters: dict[str, str]
    region: str
    account: str
    stack_name: str
    zones: tuple[str, ...]
    #: logical ID -> physical ID (Ref) of the resources created so far
    refs: dict[str, str] = field(default_factory=dict)
    #: logical ID -> attributes of the resources created so far
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: logical ID -> the attributes its type answers (``Fn::GetAtt`` is checked against it)
    known_attributes: Callable[[str], tuple[str, ...] | None] = lambda logical: None
    conditions: dict[str, bool] = field(default_factory=dict)

    # -- errors --------------------------------------------------------------------------------
    def error(self, path: str, message: str) -> DrConfigError:
        return DrConfigError(message, source=self.source, field=path)

    # -- conditions ----------------------------------------------------------------------------
    def evaluate_conditions(self) -> dict[str, bool]:
        for name in self.body.get("Conditions") or {}:
            self.condition(name, f"Conditions.{name}", ())
        return self.conditions

    def condition(self, name: Any, path: str, visiting: tuple[str, ...]) -> bool:
        declared = self.body.get("Conditions") or {}
        if not isinstance(name, str) or name not in declared:
            raise self.error(path, f"unknown condition {name!r}; the template declares: {', '.join(declared) or 'none'}")
        if name in self.conditions:
            return self.conditions[name]
        if name in visiting:
            raise self.error(path, f"condition {name!r} refers to itself through {' -> '.join(visiting)}")
        value = self.resolve(declared[name], f"Conditions.{name}", visiting + (name,))
        if not isinstance(value, bool):
            raise self.error(f"Conditions.{name}", f"expected Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition, got {value!r}")
        self.conditions[name] = value
        return value

    # -- values --------------------------------------------------------------------------------
    def resolve(self, node: Any, path: str, visiting: tuple[str, ...] = ()) -> Any:
        """``node`` with every intrinsic function replaced by its value (NO_VALUE entries dropped)."""
        if isinstance(node, list):
            items = [self.resolve(v, f"{path}[{i}]", visiting) for i, v in enumerate(node)]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref" or key == "Condition" or key.startswith("Fn::"):
                return self._function(key, arg, f"{path}.{key}", visiting)
        out = {}
        for key, value in node.items():
            resolved = self.resolve(value, f"{path}.{key}", visiting)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _function(self, name: str, arg: Any, path: str, visiting: tuple[str, ...]) -> Any:
        if name not in FUNCTIONS:
            raise self.error(path, f"{name} needs the CloudFormation service (exports, macros); expected one of: "
                                   f"{', '.join(FUNCTIONS)}")
        if name == "Ref":
            return self.ref(arg, path)
        if name == "Condition":
            return self.condition(arg, path, visiting)
        if name == "Fn::GetAtt":
            if isinstance(arg, str) and "." in arg:
                arg = arg.split(".", 1)
            if not (isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, str) for a in arg)):
                raise self.error(path, f"expected [LogicalId, Attribute] or 'LogicalId.Attribute', got {arg!r}")
            return self.get_att(arg[0], arg[1], path)
        if name == "Fn::Sub":
            return self._sub(arg, path, visiting)
        if name == "Fn::Join":
            if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
                raise self.error(path, f"expected [delimiter, [values...]], got {arg!r}")
            values = self.resolve(arg[1], f"{path}[1]", visiting)
            if not isinstance(values, list):
                raise self.error(f"{path}[1]", f"expected a list of strings, got {values!r}")
            if any(isinstance(v, Pending) for v in values):
                return Pending("Fn::Join")
            return arg[0].join(self._string(v, f"{path}[1]") for v in values)
        if name == "Fn::Select":
            if not (isinstance(arg, list) and len(arg) == 2):
                raise self.error(path, f"expected [index, [values...]], got {arg!r}")
            index = self.resolve(arg[0], f"{path}[0]", visiting)
            values = self.resolve(arg[1], f"{path}[1]", visiting)
            if isinstance(values, Pending):
                return Pending("Fn::Select")
            try:
                position = int(index)
            except (TypeError, ValueError):
                raise self.error(f"{path}[0]", f"expected an index, got {index!r}") from None
            if not isinstance(values, list) or not 0 <= position < len(values):
                raise self.error(path, f"index {position} is outside the list {values!r}")
            return values[position]
        if name == "Fn::Split":
            if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
                raise self.error(path, f"expected [delimiter, string], got {arg!r}")
            text = self.resolve(arg[1], f"{path}[1]", visiting)
            if isinstance(text, Pending):
                return text
            return self._string(text, f"{path}[1]").split(arg[0])
        if name == "Fn::GetAZs":
            region = self.resolve(arg, path, visiting) or self.region
            if region != self.region:
                raise self.error(path, f"expected '' or {self.region!r} (the deployment's region), got {region!r}")
            return list(self.zones)
        if name == "Fn::FindInMap":
            return self._find_in_map(arg, path, visiting)
        if name == "Fn::If":
            if not (isinstance(arg, list) and len(arg) == 3):
                raise self.error(path, f"expected [condition, value if true, value if false], got {arg!r}")
            chosen = 1 if self.condition(arg[0], f"{path}[0]", visiting) else 2
            return self.resolve(arg[chosen], f"{path}[{chosen}]", visiting)
        if name == "Fn::Base64":
            text = self.resolve(arg, path, visiting)
            if isinstance(text, Pending):
                return text
            return base64.b64encode(self._string(text, path).encode()).decode()
        if name == "Fn::Equals":
            if not (isinstance(arg, list) and len(arg) == 2):
                raise self.error(path, f"expected [value, value], got {arg!r}")
            left, right = (self.resolve(a, f"{path}[{i}]", visiting) for i, a in enumerate(arg))
            return str(left) == str(right)
        operands = arg if isinstance(arg, list) else None
        if operands is None or not operands or (name == "Fn::Not" and len(operands) != 1):
            raise self.error(path, f"expected a list of conditions, got {arg!r}")
        values = [self.resolve(a, f"{path}[{i}]", visiting) for i, a in enumerate(operands)]
        for i, value in enumerate(values):
            if not isinstance(value, bool):
                raise self.error(f"{path}[{i}]", f"expected a condition (Fn::Equals, Condition...), got {value!r}")
        if name == "Fn::Not":
            return not values[0]
        return all(values) if name == "Fn::And" else any(values)

    def _string(self, value: Any, path: str) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(path, f"expected a string, got {value!r}")
        return str(value)

    def ref(self, name: Any, path: str) -> Any:
        if not isinstance(name, str):
            raise self.error(path, f"expected a parameter or resource name, got {name!r}")
        pseudo = {
            "AWS::Region": self.region, "AWS::AccountId": self.account, "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/drtest",
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        declared = self.body.get("Parameters") or {}
        if name in declared:
            value = self.parameters.get(name)
            if value is None:
                raise self.error(path, f"parameter {name!r} has no value: expected a Default in the template or a "
                                       "value in the parameters file")
            kind = str(declared[name].get("Type", "String"))
            return value.split(",") if kind.startswith("List<") or kind == "CommaDelimitedList" else value
        resources = self.body.get("Resources") or {}
        if name in resources:
            return self.refs.get(name, Pending(name))
        raise self.error(path, f"unknown name {name!r}; expected a parameter, a resource or a pseudo parameter "
                               f"({', '.join(PSEUDO)})")

    def get_att(self, logical: str, attribute: str, path: str) -> Any:
        if logical not in (self.body.get("Resources") or {}):
            raise self.error(path, f"unknown resource {logical!r}")
        known = self.known_attributes(logical)
        if known is not None and attribute not in known:
            raise self.error(path, f"{logical} has no attribute {attribute!r} here; expected one of: {', '.join(known)}")
        found = self.attributes.get(logical)
        if found is None:
            return Pending(logical, attribute)
        return found[attribute]

    def _sub(self, arg: Any, path: str, visiting: tuple[str, ...]) -> Any:
        variables: dict[str, Any] = {}
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[0], str) or not isinstance(arg[1], dict):
                raise self.error(path, f"expected a string or [string, {{variables}}], got {arg!r}")
            text = arg[0]
            variables = {k: self.resolve(v, f"{path}[1].{k}", visiting) for k, v in arg[1].items()}
        elif isinstance(arg, str):
            text = arg
        else:
            raise self.error(path, f"expected a string or [string, {{variables}}], got {arg!r}")
        pending = False

        def value(match: re.Match[str]) -> str:
            nonlocal pending
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal}
            if name in variables:
                found = variables[name]
            elif "." in name and name.split(".", 1)[0] in (self.body.get("Resources") or {}):
                logical, attribute = name.split(".", 1)
                found = self.get_att(logical, attribute, path)
            else:
                found = self.ref(name, path)
            if isinstance(found, Pending):
                pending = True
                return ""
            return self._string(found, path)

        result = _SUB.sub(value, text)
        return Pending("Fn::Sub") if pending else result

    def _find_in_map(self, arg: Any, path: str, visiting: tuple[str, ...]) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3):
            raise self.error(path, f"expected [map, top-level key, second-level key], got {arg!r}")
        keys = [self.resolve(a, f"{path}[{i}]", visiting) for i, a in enumerate(arg)]
        node: Any = self.body.get("Mappings") or {}
        for i, key in enumerate(keys):
            if not isinstance(node, dict) or str(key) not in node:
                have = ", ".join(map(str, node)) if isinstance(node, dict) else "nothing"
                raise self.error(f"{path}[{i}]", f"no key {key!r} in Mappings.{'.'.join(map(str, keys[:i]))}; it has: {have}")
            node = node[str(key)]
        return node


def references(node: Any, conditions: dict[str, bool] | None = None) -> set[str]:
    """Names a fragment refers to (Ref, Fn::GetAtt, Fn::Sub variables): its dependencies. With the
    evaluated ``conditions``, only the branch an ``Fn::If`` takes counts (a resource may refer to a
    conditional resource in the branch of its condition, as CloudFormation allows)."""
    found: set[str] = set()
    if isinstance(node, list):
        for value in node:
            found |= references(value, conditions)
    elif isinstance(node, dict):
        for key, value in node.items():
            if (key == "Fn::If" and conditions is not None and isinstance(value, list) and len(value) == 3
                    and isinstance(value[0], str) and value[0] in conditions):
                found |= references(value[1] if conditions[value[0]] else value[2], conditions)
            elif key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value.split(".", 1)[0] if isinstance(value, str) else value[0] if isinstance(value, list) and value else None
                if isinstance(target, str):
                    found.add(target)
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0] if isinstance(value, list) and value else ""
                if isinstance(text, str):
                    found |= {m.split(".", 1)[0] for m in _SUB.findall(text) if not m.startswith("!")}
                if isinstance(value, list) and len(value) > 1:
                    found |= references(value[1], conditions)
            else:
                found |= references(value, conditions)
    return found
