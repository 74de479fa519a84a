"""CloudFormation template and parameters files: parsing and structure checks.

A template is JSON or YAML (the short forms ``!Ref``, ``!Sub``, ``!GetAtt``... read as their
``Fn::`` mappings). The structure follows the CloudFormation user guide, "Template anatomy":
``Resources`` is required, each resource has a ``Type`` and optional ``Properties``,
``DependsOn``, ``Condition`` ([CFN-UG:resources-section-structure]). Every error names the file
and the path inside it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_drtest.errors import DrConfigError

#: Template sections ([CFN-UG:template-anatomy]).
SECTIONS = (
    "AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions",
    "Transform", "Resources", "Outputs",
)
#: Attributes a resource may carry besides Type and Properties ([CFN-UG:aws-product-attribute-reference]).
RESOURCE_KEYS = (
    "Type", "Properties", "DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy", "Metadata",
    "CreationPolicy", "UpdatePolicy",
)
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")
_LOGICAL_ID = re.compile(r"^[A-Za-z0-9]+$")
_TYPE = re.compile(r"^(AWS|Alexa|Custom)::[A-Za-z0-9]+(::[A-Za-z0-9]+)?$")


@dataclass
class Template:
    """A parsed template: its file, its sections, and the parameter values of its parameters file."""

    source: str
    body: dict[str, Any]
    given: dict[str, str] = field(default_factory=dict)  # from the parameters file
    parameters_source: str | None = None

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.body["Resources"]
        return resources

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return dict(self.body.get("Parameters") or {})

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return dict(self.body.get("Outputs") or {})

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.body.get("Metadata") or {})

    def order(self, logical: str) -> int:
        """The resource's position in the template (ties in the deployment order follow it)."""
        return list(self.resources).index(logical)


def read_document(path: Path, what: str) -> Any:
    """A JSON or YAML document (by suffix; ``.template`` and others: JSON, then YAML)."""
    source = str(path)
    if not path.is_file():
        raise DrConfigError(f"{what} not found", source=source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DrConfigError(f"{what} cannot be read: {exc.strerror}", source=source) from None
    if path.suffix.lower() == ".json" or (path.suffix.lower() != ".yaml" and text.lstrip().startswith(("{", "["))):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DrConfigError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", source=source) from None
    import yaml

    from pytest_drtest.policy import _yaml_loader

    try:
        return yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass with the short forms
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise DrConfigError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}{where}", source=source) from None


def load_template(path: Path, parameters: Path | None = None) -> Template:
    """Parse and check a template (and its parameters file); nothing is deployed."""
    body = read_document(path, "template")
    check_structure(body, str(path))
    template = Template(str(path), body)
    if parameters is not None:
        template.given = load_parameters(parameters, template)
        template.parameters_source = str(parameters)
    return template


def check_structure(body: Any, source: str) -> None:
    """The template's anatomy: known sections, ``Resources`` with a ``Type`` each, no transform."""
    if not isinstance(body, dict):
        raise DrConfigError(f"expected a CloudFormation template (a mapping with Resources), got {type(body).__name__}",
                            source=source)
    for key in body:
        if key not in SECTIONS:
            raise DrConfigError(f"unknown template section {key!r}; expected one of: {', '.join(SECTIONS)}",
                                source=source, field=str(key))
    if "Transform" in body:
        raise DrConfigError(
            "transforms (AWS::Serverless, AWS::LanguageExtensions, macros) are expanded by the CloudFormation "
            "service: deploy the processed template instead (aws cloudformation get-template --template-stage "
            "Processed)", source=source, field="Transform")
    resources = body.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise DrConfigError("expected a Resources mapping with at least one resource", source=source, field="Resources")
    for logical, resource in resources.items():
        where = f"Resources.{logical}"
        if not isinstance(logical, str) or not _LOGICAL_ID.match(logical):
            raise DrConfigError("a logical ID holds letters and digits only", source=source, field=where)
        if not isinstance(resource, dict):
            raise DrConfigError("expected a mapping with Type and Properties", source=source, field=where)
        kind = resource.get("Type")
        if not isinstance(kind, str) or not _TYPE.match(kind):
            raise DrConfigError(f"expected a resource type like AWS::DynamoDB::Table, got {kind!r}",
                                source=source, field=f"{where}.Type")
        for key in resource:
            if key not in RESOURCE_KEYS:
                raise DrConfigError(f"unknown resource attribute {key!r}; expected one of: {', '.join(RESOURCE_KEYS)}",
                                    source=source, field=f"{where}.{key}")
        if not isinstance(resource.get("Properties", {}), dict):
            raise DrConfigError("expected a mapping", source=source, field=f"{where}.Properties")
        depends = resource.get("DependsOn", [])
        names = [depends] if isinstance(depends, str) else depends
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DrConfigError("expected a logical ID or a list of them", source=source, field=f"{where}.DependsOn")
        for name in names:
            if name not in resources:
                raise DrConfigError(f"unknown resource {name!r}; the template has: {', '.join(resources)}",
                                    source=source, field=f"{where}.DependsOn")
        if "Condition" in resource and resource["Condition"] not in (body.get("Conditions") or {}):
            raise DrConfigError(f"unknown condition {resource['Condition']!r}", source=source, field=f"{where}.Condition")
    for section in ("Parameters", "Mappings", "Conditions", "Outputs", "Metadata"):
        if section in body and not isinstance(body[section], dict):
            raise DrConfigError("expected a mapping", source=source, field=section)
    for name, spec in (body.get("Parameters") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("Type"), str):
            raise DrConfigError("expected a mapping with a Type (String, Number, CommaDelimitedList...)",
                                source=source, field=f"Parameters.{name}")
    for name, spec in (body.get("Outputs") or {}).items():
        if not isinstance(spec, dict) or "Value" not in spec:
            raise DrConfigError("expected a mapping with a Value", source=source, field=f"Outputs.{name}")


def load_parameters(path: Path, template: Template) -> dict[str, str]:
    """A parameters file in one of the shapes the AWS tools write.

    * the CLI's ``--parameters file://...``: ``[{"ParameterKey": ..., "ParameterValue": ...}]``;
    * a CodePipeline template configuration: ``{"Parameters": {"Key": "value"}}``;
    * a plain mapping ``{"Key": "value"}``.
    """
    data = read_document(path, "parameters file")
    source = str(path)
    values: dict[str, Any] = {}
    if isinstance(data, list):
        for i, entry in enumerate(data):
            if not isinstance(entry, dict) or "ParameterKey" not in entry or "ParameterValue" not in entry:
                raise DrConfigError('expected {"ParameterKey": ..., "ParameterValue": ...}', source=source, field=f"[{i}]")
            values[str(entry["ParameterKey"])] = entry["ParameterValue"]
    elif isinstance(data, dict):
        inner = data.get("Parameters", data)
        if not isinstance(inner, dict):
            raise DrConfigError("expected a mapping of parameter names to values", source=source, field="Parameters")
        values = dict(inner)
    else:
        raise DrConfigError('expected [{"ParameterKey": ..., "ParameterValue": ...}] or {"Parameters": {...}}', source=source)
    declared = template.parameters
    out: dict[str, str] = {}
    for key, value in values.items():
        if key not in declared:
            raise DrConfigError(
                f"parameter {key!r} is not declared by the template {template.source}; it declares: "
                f"{', '.join(declared) or 'none'}", source=source, field=key)
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise DrConfigError(f"expected a string or a number, got {value!r}", source=source, field=key)
        out[key] = str(value)
    return out


def is_template_ref(ref: str) -> bool:
    """Whether a blueprint reference names a CloudFormation template."""
    return Path(ref).suffix.lower() in TEMPLATE_SUFFIXES
