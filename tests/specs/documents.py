"""The pinned vendor specifications (`pins.toml`) and JSON Schema validators over their schemas.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so one validator per referenced schema resolves `$ref`s
inside the whole document. Google publishes the Gemini API as a discovery document: its schemas are
converted to JSON Schema with unknown properties refused (discovery has no `required`, so a misspelt
or wrongly-cased field is what such a document can catch).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["PINS", "Pin", "Spec", "SpecDrift", "spec"]

_PINS_FILE = Path(__file__).with_name("pins.toml")


class SpecDrift(AssertionError):
    """The installed document is not the pinned one."""


@dataclass(frozen=True)
class Pin:
    name: str
    title: str
    package: str
    version: str
    member: str
    sha256: str
    upstream_version: str
    format: Literal["openapi", "discovery"]

    def path(self) -> Path:
        installed = metadata.version(self.package)
        if installed != self.version:
            raise SpecDrift(f"{self.name}: {self.package} {installed} is installed, {self.version} is pinned; "
                            f"install {self.package}=={self.version} (make venv) or re-pin tests/specs/pins.toml")
        return Path(str(metadata.distribution(self.package).locate_file(self.member)))

    def digest(self) -> str:
        return hashlib.sha256(self.path().read_bytes()).hexdigest()


PINS: dict[str, Pin] = {name: Pin(name=name, **fields)
                        for name, fields in tomllib.loads(_PINS_FILE.read_text()).items()}


class Spec:
    """One vendor's document: `check(schema, instance)` raises AssertionError naming every violation."""

    def __init__(self, pin: Pin, document: dict[str, Any]) -> None:
        self.pin = pin
        self.document = document
        if pin.format == "discovery":
            root = {"$defs": {name: _from_discovery(schema) for name, schema in document["schemas"].items()}}
            self._prefix = "urn:spec#/$defs/"
        else:
            root = _nullable(document)
            self._prefix = "urn:spec#/components/schemas/"
        resource = Resource.from_contents(root, default_specification=DRAFT202012)
        self._registry: Registry = Registry().with_resource("urn:spec", resource)
        self._validators: dict[str, Draft202012Validator] = {}

    def validator(self, schema: str) -> Draft202012Validator:
        if schema not in self._validators:
            self._validators[schema] = Draft202012Validator({"$ref": self._prefix + schema}, registry=self._registry)
        return self._validators[schema]

    def violations(self, schema: str, instance: Any) -> list[str]:
        found = sorted(self.validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in found]

    def check(self, schema: str, instance: Any) -> None:
        problems = self.violations(schema, instance)
        if problems:
            raise AssertionError(f"not a valid {self.pin.name} {schema} ({self.pin.title}, "
                                 f"{self.pin.upstream_version}):\n  " + "\n  ".join(problems[:10]))

    def operation(self, path: str, method: str) -> dict[str, Any]:
        """An OpenAPI operation; KeyError names the path when the vendor does not publish it."""
        return self.document["paths"][path][method.lower()]

    def response_schema(self, path: str, method: str, status: str = "200",
                        media: str = "application/json") -> str:
        """The component name of an operation's documented response, read from the document."""
        ref = self.operation(path, method)["responses"][status]["content"][media]["schema"]["$ref"]
        return ref.rsplit("/", 1)[-1]

    def discovery_method(self, resource: str, method: str) -> dict[str, Any]:
        return self.document["resources"][resource]["methods"][method]


@cache
def spec(name: str) -> Spec:
    """The pinned document, refused when its bytes are not the pinned ones."""
    pin = PINS[name]
    path = pin.path()
    digest = pin.digest()
    if digest != pin.sha256:
        raise SpecDrift(f"{name}: {path} has sha256 {digest}, {pin.sha256} is pinned (tests/specs/pins.toml)")
    text = path.read_text()
    document = json.loads(text) if pin.format == "discovery" else yaml.load(text, Loader=yaml.CSafeLoader)
    return Spec(pin, document)


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true`, which both vendors' documents still use, as 3.1 spells it.

    Their SDK generators read it so (a null `finish_reason` in a stream chunk is valid); JSON Schema
    2020-12 alone would ignore the keyword and refuse the null.
    """
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") is True else out


_DISCOVERY_TYPES = {"string", "integer", "number", "boolean", "object", "array"}


def _from_discovery(schema: dict[str, Any]) -> dict[str, Any]:
    """A discovery schema as JSON Schema; objects with declared properties refuse others."""
    if "$ref" in schema:
        return {"$ref": f"#/$defs/{schema['$ref']}"}
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if kind in _DISCOVERY_TYPES:
        # discovery writes 64-bit integers as strings (format int64); JSON numbers are accepted as Google's
        # own JSON parsers do
        out["type"] = ["string", "integer"] if kind == "string" and schema.get("format") in ("int64", "uint64") \
            else kind
    if "enum" in schema:
        out["enum"] = schema["enum"]
    if "items" in schema:
        out["items"] = _from_discovery(schema["items"])
    if "properties" in schema:
        out["properties"] = {k: _from_discovery(v) for k, v in schema["properties"].items()}
        out["additionalProperties"] = False
    elif isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = _from_discovery(schema["additionalProperties"])
    return out
