"""The mock's tool calls and structured output: arguments valid for the offered schema, the best-matching
tool chosen, faults that break the call on purpose."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from harness.checks.agents import INVOICE, WEATHER
from harness.standins.mockllm.tools import Tool, call_for, example

SCHEMAS: list[dict[str, Any]] = [
    WEATHER["function"]["parameters"], INVOICE,
    {"type": "object", "properties": {"when": {"type": "string", "format": "date"},
                                      "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                                      "kind": {"anyOf": [{"type": "integer", "minimum": 3}, {"type": "null"}]}},
     "required": ["when", "tags", "kind"]},
    {"type": ["string", "null"], "minLength": 12},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_an_example_validates_against_its_schema(schema: dict[str, Any]) -> None:
    jsonschema.validate(example(schema), schema)


def test_gemini_style_upper_case_types_are_understood() -> None:
    value = example({"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}, "ok": {"type": "BOOLEAN"}}})
    assert value == {"n": 1, "ok": True}


def test_the_best_matching_tool_is_called_and_faults_break_the_call() -> None:
    offered = [Tool("send_email", "Send an email to a person", {"type": "object", "properties": {}}),
               Tool("get_weather", "Get the current weather for a city", WEATHER["function"]["parameters"])]
    call = call_for(offered, "What is the weather in Paris?")
    assert call.name == "get_weather"
    jsonschema.validate(json.loads(call.arguments), WEATHER["function"]["parameters"])
    with pytest.raises(ValueError):
        json.loads(call_for(offered, "weather in Paris", "malformed_arguments").arguments)
    assert call_for(offered, "weather in Paris", "unknown_tool").name == "get_weather_not_offered"
