"""The request bodies each vendor accepts, as far as the mock reads them; anything else is the vendor's 400.

Only the fields the mock uses (and the vendors require) are checked, with unknown fields allowed as the
vendors allow new ones: a malformed request gets the vendor's error body and status, never a 500.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from harness._http import Request

__all__ = ["Invalid", "read"]


class Invalid(ValueError):
    """A request body the vendor would refuse with 400; the message names the field."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


Part = dict[str, Any]  # a typed content part ({"type": "text", "text": ...}); the mock reads its text only
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _json_schema(value: Any, where: str = "schema") -> Any:
    """A tool's or an output format's JSON Schema: every subschema an object (or a boolean), as the vendors
    check before anything runs; anything else is their 400 (`... JSON schema is invalid`)."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"{where}: JSON schema is invalid (a subschema must be an object)")
    for key in _SUBSCHEMA_MAPS:
        if key in value:
            if not isinstance(value[key], dict):
                raise ValueError(f"{where}.{key}: JSON schema is invalid (an object of subschemas expected)")
            for name, sub in value[key].items():
                _json_schema(sub, f"{where}.{key}.{name}")
    for key in _SUBSCHEMA_LISTS:
        if key in value:
            if not isinstance(value[key], list):
                raise ValueError(f"{where}.{key}: JSON schema is invalid (a list of subschemas expected)")
            for index, sub in enumerate(value[key]):
                _json_schema(sub, f"{where}.{key}.{index}")
    for key in ("items", "additionalProperties", "not"):
        if key in value:
            _json_schema(value[key], f"{where}.{key}")
    return value


Schema = Annotated[dict[str, Any], AfterValidator(_json_schema)]


class _Function(_Open):
    name: str | None = None
    description: str | None = None
    parameters: Schema | None = None


class _OpenAITool(_Open):
    type: str | None = None
    function: _Function | None = None


class _JsonSchemaFormat(_Open):
    name: str | None = None
    schema_: Schema | None = Field(None, alias="schema")


class _ResponseFormat(_Open):
    type: str
    json_schema: _JsonSchemaFormat | None = None


class _ChatMessage(_Open):
    role: str
    content: str | list[Part] | None = None


class OpenAIChat(_Open):
    model: str = Field(min_length=1)
    messages: list[_ChatMessage] = Field(min_length=1)
    stream: bool | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    tools: list[_OpenAITool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: _ResponseFormat | None = None
    stream_options: dict[str, Any] | None = None


class OpenAIEmbeddings(_Open):
    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    dimensions: int | None = Field(None, ge=1, le=8192)


class _ResponsesTool(_Open):
    type: str
    name: str | None = None
    description: str | None = None
    parameters: Schema | None = None


class OpenAIResponses(_Open):
    model: str = Field(min_length=1)
    input: str | list[Part]
    instructions: str | None = None
    stream: bool | None = None
    tools: list[_ResponsesTool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_output_tokens: int | None = Field(None, ge=1)


class _AnthropicMessage(_Open):
    role: str
    content: str | list[Part]


class _AnthropicTool(_Open):
    name: str = Field(min_length=1)
    description: str | None = None
    input_schema: Schema | None = None


class _ToolChoice(_Open):
    type: str
    name: str | None = None


class AnthropicMessages(_Open):
    model: str = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    messages: list[_AnthropicMessage] = Field(min_length=1)
    system: str | list[Part] | None = None
    stream: bool | None = None
    tools: list[_AnthropicTool] | None = None
    tool_choice: _ToolChoice | None = None


class AnthropicCountTokens(_Open):
    model: str = Field(min_length=1)
    messages: list[_AnthropicMessage] = Field(min_length=1)
    system: str | list[Part] | None = None


class _GeminiContent(_Open):
    role: str | None = None
    parts: list[Part] = Field(min_length=1)


class _GeminiTool(_Open):
    functionDeclarations: list[_Function] | None = None  # noqa: N815: the API's own (camelCase) name
    function_declarations: list[_Function] | None = None


class _CallingConfig(_Open):
    mode: str | None = None


class _ToolConfig(_Open):
    functionCallingConfig: _CallingConfig | None = None


class GeminiGenerate(_Open):
    contents: list[_GeminiContent] = Field(min_length=1)
    generationConfig: dict[str, Any] | None = None
    generation_config: dict[str, Any] | None = None
    systemInstruction: _GeminiContent | None = None
    system_instruction: _GeminiContent | None = None
    tools: list[_GeminiTool] | None = None
    toolConfig: _ToolConfig | None = None
    tool_config: _ToolConfig | None = None


def read(request: Request, model: type[BaseModel]) -> dict[str, Any]:
    """The request's JSON object, checked against `model`; Invalid names the first problem."""
    try:
        body = request.json()
    except ValueError as exc:
        raise Invalid(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    try:
        model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "body"
        raise Invalid(f"{where}: {first['msg']}") from None
    return body
