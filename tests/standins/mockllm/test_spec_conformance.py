"""Every vendor route the mock serves answers in the vendor's published schema (tests/specs/pins.toml).

Plain and streamed answers, tool calls, usage, and the error bodies a gateway sees (401, 400, 429, 500,
503, 529 and the in-stream error) are validated against the schema the vendor's own document names for
that operation. The negative controls break the mock the way drift would (a required field dropped,
an error in another vendor's shape) and expect these validators to say so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from harness._http import App
from harness.standins.mockllm import _anthropic, _openai, create_app
from tests.specs.documents import Spec, spec

OPENAI = {"authorization": "Bearer sk-test"}
ANTHROPIC = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
GEMINI = {"x-goog-api-key": "g-key"}
WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Name three colours"}]}
MESSAGES = {"model": "claude-3-5-sonnet-20241022", "max_tokens": 64,
            "messages": [{"role": "user", "content": "Name three colours"}]}
GENERATE = {"contents": [{"role": "user", "parts": [{"text": "Name three colours"}]}]}


@dataclass(frozen=True)
class Exchange:
    """One request to the mock and the vendor schema its answer must satisfy."""

    vendor: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    behaviour: dict[str, Any] | None = None  # set for the model before the call (forced errors)
    stream: bool = False


EXCHANGES: dict[str, Exchange] = {
    "openai chat": Exchange("openai", "POST", "/v1/chat/completions", CHAT, OPENAI),
    "openai chat stream": Exchange("openai", "POST", "/v1/chat/completions",
                                   {**CHAT, "stream": True, "stream_options": {"include_usage": True}}, OPENAI,
                                   stream=True),
    "openai tool call": Exchange("openai", "POST", "/v1/chat/completions",
                                 {**CHAT, "tools": [{"type": "function", "function": WEATHER}]}, OPENAI),
    "openai tool call stream": Exchange("openai", "POST", "/v1/chat/completions",
                                        {**CHAT, "stream": True, "tools": [{"type": "function",
                                                                            "function": WEATHER}]},
                                        OPENAI, stream=True),
    "openai structured output": Exchange("openai", "POST", "/v1/chat/completions", {**CHAT, "response_format": {
        "type": "json_schema", "json_schema": {"name": "colours", "schema": {"type": "object"}}}}, OPENAI),
    "openai embeddings": Exchange("openai", "POST", "/v1/embeddings",
                                  {"model": "text-embedding-3-small", "input": ["a", "b c"]}, OPENAI),
    "openai models": Exchange("openai", "GET", "/v1/models", headers=OPENAI),
    "openai responses": Exchange("openai", "POST", "/v1/responses", {"model": "gpt-4o", "input": "Hi"}, OPENAI),
    "openai responses stream": Exchange("openai", "POST", "/v1/responses",
                                        {"model": "gpt-4o", "input": "Hi", "stream": True}, OPENAI, stream=True),
    "openai responses tool stream": Exchange("openai", "POST", "/v1/responses", {
        "model": "gpt-4o", "input": "Weather in Oslo?", "stream": True,
        "tools": [{"type": "function", **WEATHER}]}, OPENAI, stream=True),
    "openai 401": Exchange("openai", "POST", "/v1/chat/completions", CHAT),
    "openai 400 context": Exchange("openai", "POST", "/v1/chat/completions", CHAT, OPENAI,
                                   {"context_window": 1}),
    "openai 429": Exchange("openai", "POST", "/v1/chat/completions", CHAT, OPENAI,
                           {"status": 429, "retry_after_s": 1}),
    "openai 500": Exchange("openai", "POST", "/v1/chat/completions", CHAT, OPENAI, {"status": 500}),
    "openai 503": Exchange("openai", "POST", "/v1/chat/completions", CHAT, OPENAI, {"status": 503}),
    "openai in-stream error": Exchange("openai", "POST", "/v1/chat/completions", {**CHAT, "stream": True},
                                       OPENAI, {"stream_error_after": 2}, stream=True),
    "anthropic messages": Exchange("anthropic", "POST", "/v1/messages", MESSAGES, ANTHROPIC),
    "anthropic messages stream": Exchange("anthropic", "POST", "/v1/messages", {**MESSAGES, "stream": True},
                                          ANTHROPIC, stream=True),
    "anthropic tool use": Exchange("anthropic", "POST", "/v1/messages", {**MESSAGES, "tools": [
        {"name": WEATHER["name"], "input_schema": WEATHER["parameters"]}]}, ANTHROPIC),
    "anthropic tool use stream": Exchange("anthropic", "POST", "/v1/messages", {**MESSAGES, "stream": True, "tools": [
        {"name": WEATHER["name"], "input_schema": WEATHER["parameters"]}]}, ANTHROPIC, stream=True),
    "anthropic count tokens": Exchange("anthropic", "POST", "/v1/messages/count_tokens",
                                       {"model": MESSAGES["model"], "messages": MESSAGES["messages"]}, ANTHROPIC),
    "anthropic 401": Exchange("anthropic", "POST", "/v1/messages", MESSAGES),
    "anthropic 400 context": Exchange("anthropic", "POST", "/v1/messages", MESSAGES, ANTHROPIC,
                                      {"context_window": 1}),
    "anthropic 429": Exchange("anthropic", "POST", "/v1/messages", MESSAGES, ANTHROPIC,
                              {"status": 429, "retry_after_s": 2}),
    "anthropic 500": Exchange("anthropic", "POST", "/v1/messages", MESSAGES, ANTHROPIC, {"status": 500}),
    "anthropic 529": Exchange("anthropic", "POST", "/v1/messages", MESSAGES, ANTHROPIC, {"status": 529}),
    "anthropic in-stream error": Exchange("anthropic", "POST", "/v1/messages", {**MESSAGES, "stream": True},
                                          ANTHROPIC, {"stream_error_after": 2}, stream=True),
    "gemini generate": Exchange("gemini", "POST", "/v1beta/models/gemini-2.0-flash:generateContent", GENERATE,
                                GEMINI),
    "gemini stream sse": Exchange("gemini", "POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
                                  GENERATE, GEMINI, stream=True),
    "gemini stream array": Exchange("gemini", "POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
                                    GENERATE, GEMINI, stream=True),
    "gemini function call": Exchange("gemini", "POST", "/v1beta/models/gemini-2.0-flash:generateContent", {
        **GENERATE, "tools": [{"functionDeclarations": [WEATHER]}]}, GEMINI),
    "gemini 403": Exchange("gemini", "POST", "/v1beta/models/gemini-2.0-flash:generateContent", GENERATE),
    "gemini 429": Exchange("gemini", "POST", "/v1beta/models/gemini-2.0-flash:generateContent", GENERATE, GEMINI,
                           {"status": 429}),
    "gemini 503": Exchange("gemini", "POST", "/v1beta/models/gemini-2.0-flash:generateContent", GENERATE, GEMINI,
                           {"status": 503}),
}


@pytest.fixture
def mock(serve_app: Callable[[App], str]) -> str:
    return serve_app(create_app())


def exchange(base: str, case: Exchange) -> httpx.Response:
    model = (case.body or {}).get("model") or "gemini-2.0-flash"
    if case.behaviour is not None:
        httpx.put(f"{base}/_control/behaviour/{model}", json=case.behaviour).raise_for_status()
    received = bytearray()
    with httpx.stream(case.method, base + case.path, json=case.body, headers=case.headers, timeout=10) as answer:
        try:
            for piece in answer.iter_raw():
                received += piece
        except httpx.RemoteProtocolError:  # the in-stream error cases end by cutting the connection
            assert (case.behaviour or {}).get("stream_error_after") is not None, "a stream cut unasked"
        return httpx.Response(answer.status_code, headers=answer.headers, content=bytes(received))


def sse_events(text: str) -> Iterator[tuple[str | None, Any]]:
    """(event name, parsed data) of each server-sent event; `[DONE]` is OpenAI's terminator, not JSON."""
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data and data != ["[DONE]"]:
            yield name, json.loads("\n".join(data))


def validate(case: Exchange, response: httpx.Response) -> int:
    """Checks the answer against the vendor's document; returns how many objects were validated."""
    document = spec(case.vendor)
    if response.status_code >= 400:
        return _validate_error(document, case, response.json())
    if case.vendor == "gemini":
        return _validate_gemini(document, case, response)
    path = case.path.split("?")[0].removeprefix("/v1") if case.vendor == "openai" else case.path.split("?")[0]
    if not case.stream:
        document.check(document.response_schema(path, case.method), response.json())
        return 1
    events = list(sse_events(response.text))
    assert events, "a stream without events"
    for name, data in events:
        if case.vendor == "openai" and "error" in data and "object" not in data:
            document.check("ErrorResponse", data)  # OpenAI's in-stream error is its error body as a chunk
        elif case.vendor == "openai":
            document.check(document.response_schema(path, case.method, media="text/event-stream"), data)
        elif name == "ping":  # Anthropic's documented keep-alive; its spec's event union leaves it out
            assert data == {"type": "ping"}
        elif name == "error":
            document.check("ErrorResponse", data)
        else:
            assert name == data["type"], f"event name {name} but type {data['type']}"
            document.check("MessageStreamEvent", data)
    return len(events)


def _validate_error(document: Spec, case: Exchange, body: Any) -> int:
    if case.vendor == "gemini":
        # Google's JSON error (google.rpc.Status plus the status name), as google-genai's APIError reads it
        error = body["error"]
        assert set(error) <= {"code", "message", "status", "details"}, error
        assert isinstance(error["code"], int) and isinstance(error["message"], str)
        assert isinstance(error["status"], str) and error["status"].isupper()  # google.rpc.Code's name
        return 1
    document.check("ErrorResponse", body)
    return 1


def _validate_gemini(document: Spec, case: Exchange, response: httpx.Response) -> int:
    method = "streamGenerateContent" if case.stream else "generateContent"
    schema = document.discovery_method("models", method)["response"]["$ref"]
    if not case.stream:
        document.check(schema, response.json())
        return 1
    chunks = [data for _, data in sse_events(response.text)] if "alt=sse" in case.path else response.json()
    for chunk in chunks:
        document.check(schema, chunk)
    return len(chunks)


@pytest.mark.parametrize("name", list(EXCHANGES))
def test_the_mock_answers_in_the_vendors_published_schema(mock: str, name: str) -> None:
    case = EXCHANGES[name]
    response = exchange(mock, case)
    forced = (case.behaviour or {}).get("status")
    expected = forced or (400 if "context_window" in (case.behaviour or {}) else None)
    if expected:
        assert response.status_code == expected
    elif " 40" in name:
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == 200, response.text
    assert validate(case, response) >= 1


def test_every_vendor_route_of_the_mock_is_covered_and_published(mock: str) -> None:
    """The table above reaches each vendor route the mock registers, and each is in its vendor's document."""
    app = create_app()
    served = {(m, p) for m, p in app.routes() if not p.startswith("/_control")}
    reached = {(c.method, _route_of(c.path)) for c in EXCHANGES.values()}
    assert served <= reached, f"routes without a conformance case: {served - reached}"
    for method, path in served:
        if path.startswith("/v1beta/"):
            name = path.rsplit(":", 1)[1]
            assert spec("gemini").discovery_method("models", name)["httpMethod"] == method
        elif path.startswith("/v1/messages"):
            spec("anthropic").operation(path, method)
        else:
            spec("openai").operation(path.removeprefix("/v1"), method)


def _route_of(path: str) -> str:
    path = path.split("?")[0]
    if path.startswith("/v1beta/models/"):
        return "/v1beta/models/{model}:" + path.rsplit(":", 1)[1]
    return path


# --- negative controls: a drifted mock fails the validators above -------------------------------------------


def test_a_completion_without_a_required_field_fails(mock: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _openai._completion

    def without_created(*args: Any, **kwargs: Any) -> dict[str, Any]:
        body = real(*args, **kwargs)
        del body["created"]
        return body

    monkeypatch.setattr(_openai, "_completion", without_created)
    case = EXCHANGES["openai chat"]
    with pytest.raises(AssertionError, match="created"):
        validate(case, exchange(mock, case))


def test_an_error_in_another_vendors_shape_fails(mock: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_anthropic, "error", _openai.error)  # OpenAI's error body on Anthropic's route
    case = EXCHANGES["anthropic 529"]
    with pytest.raises(AssertionError, match="ErrorResponse"):
        validate(case, exchange(mock, case))


def test_a_stream_event_of_the_wrong_type_fails(mock: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _anthropic._event

    def renamed(name: str, data: dict[str, Any]) -> bytes:
        if name == "content_block_delta":
            data = {**data, "delta": {"type": "text", "text": data["delta"].get("text", "")}}
        return real(name, data)

    monkeypatch.setattr(_anthropic, "_event", renamed)
    case = EXCHANGES["anthropic messages stream"]
    with pytest.raises(AssertionError, match="MessageStreamEvent"):
        validate(case, exchange(mock, case))


def test_a_gemini_field_in_the_wrong_case_fails() -> None:
    document = spec("gemini")
    good = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}
    document.check("GenerateContentResponse", good)
    bad = {**good, "usageMetadata": {"prompt_token_count": 3}}
    with pytest.raises(AssertionError, match="prompt_token_count"):
        document.check("GenerateContentResponse", bad)
