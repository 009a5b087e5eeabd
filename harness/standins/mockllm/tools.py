"""Tools and structured output for the mock providers, whatever wire format asked.

A request that offers tools (and whose last turn is not a tool's result) gets one tool call: the offered
tool whose name or description shares the most words with the prompt, with arguments generated from its
JSON Schema. A request whose last turn carries a tool's result gets a text answer that quotes it. A
request for structured output gets JSON that validates against its schema. Behaviour data can break the
call on purpose (`tool_fault`), or make the model ignore the tools (`ignore_tools`).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["Tool", "ToolCall", "call_for", "example", "structured_text"]

_WORDS = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as every wire format carries it somewhere (not valid JSON under a fault)

    def parsed(self) -> dict[str, Any]:
        try:
            value = json.loads(self.arguments)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def example(schema: dict[str, Any], key: str = "value") -> Any:
    """An instance of a JSON Schema (OpenAPI-style upper-case types too, as Gemini sends them)."""
    if not isinstance(schema, dict):  # `true`/`false` subschemas: any value
        return f"mock-{key}"
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for combo in ("anyOf", "oneOf", "allOf"):
        if schema.get(combo):
            return example(schema[combo][0], key)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "string")
    kind = str(kind).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: example(sub, name) for name, sub in props.items()}
    if kind == "array":
        items = schema.get("items") or {"type": "string"}
        return [example(items, key) for _ in range(max(1, int(schema.get("minItems") or 1)))]
    if kind == "integer":
        return max(int(schema.get("minimum") or 1), 1)
    if kind == "number":
        return float(schema.get("minimum") or 1.5)
    if kind == "boolean":
        return True
    if schema.get("format") == "date":
        return "2026-12-01"
    text = f"mock-{key}"
    return text if len(text) >= int(schema.get("minLength") or 0) else text.ljust(int(schema["minLength"]), "x")


def _words(text: str) -> set[str]:
    return set(_WORDS.findall(text.lower()))


def call_for(tools: list[Tool], prompt: str, fault: str | None = None) -> ToolCall:
    """The tool call a model makes for `prompt`: the best-matching offered tool, schema-valid arguments."""
    words = _words(prompt)
    chosen = max(tools, key=lambda t: len(words & (_words(t.name.replace("_", " ")) | _words(t.description))))
    arguments = json.dumps(example(chosen.schema))
    name = chosen.name
    if fault == "malformed_arguments":
        arguments = arguments[: max(1, len(arguments) // 2)]  # cut off mid-object: not JSON
    elif fault == "unknown_tool":
        name = f"{chosen.name}_not_offered"
    return ToolCall(id=uuid.uuid4().hex[:24], name=name, arguments=arguments)


def structured_text(schema: dict[str, Any]) -> str:
    """The JSON text a model answers with when asked for output of `schema`."""
    return json.dumps(example(schema))


# what each wire format offers

def openai_tools(body: dict[str, Any]) -> list[Tool]:
    if body.get("tool_choice") == "none":
        return []
    out = []
    for entry in body.get("tools") or []:
        fn = entry.get("function") or {}
        if fn.get("name"):
            out.append(Tool(fn["name"], fn.get("description") or "", fn.get("parameters") or {}))
    return out


def anthropic_tools(body: dict[str, Any]) -> list[Tool]:
    if (body.get("tool_choice") or {}).get("type") == "none":
        return []
    return [Tool(t["name"], t.get("description") or "", t.get("input_schema") or {})
            for t in body.get("tools") or [] if t.get("name")]


def gemini_tools(body: dict[str, Any]) -> list[Tool]:
    mode = (((body.get("toolConfig") or body.get("tool_config") or {}).get("functionCallingConfig")
             or {}).get("mode") or "").upper()
    if mode == "NONE":
        return []
    out = []
    for group in body.get("tools") or []:
        for fn in group.get("functionDeclarations") or group.get("function_declarations") or []:
            if fn.get("name"):
                out.append(Tool(fn["name"], fn.get("description") or "", fn.get("parameters") or {}))
    return out


def forced(body: dict[str, Any], tools: list[Tool]) -> list[Tool]:
    """The tools a request forces (OpenAI's or Anthropic's tool_choice naming one), else all offered."""
    choice = body.get("tool_choice")
    name = None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or (choice.get("name") if choice.get("type") == "tool"
                                                              else None)
    return [t for t in tools if t.name == name] or tools
