"""The Gemini wire format: `/v1beta/models/{model}:generateContent` and `:streamGenerateContent`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from harness._http import App, Request, Response, StreamingResponse, json_response
from harness.standins.mockllm import tools
from harness.standins.mockllm.requests import GeminiGenerate, read
from harness.standins.mockllm.state import Call, MockState
from harness.standins.mockllm.text import content_text, count_tokens

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def error(status: int, message: str, retry_after: float | None = None) -> Response:
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
    body = {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}
    return json_response(body, status, headers)


def _prompt(body: dict[str, Any]) -> tuple[str, int]:
    texts = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if system:
        texts += [p.get("text", "") for p in system.get("parts", [])]
    contents = body.get("contents", [])
    for content in contents:
        texts += [content_text(p.get("text", "")) for p in content.get("parts", [])]
    return "\n".join(texts), len(contents)


def _candidate(text: str, finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return candidate


def _usage(call: Call, output: int) -> dict[str, int]:
    return {"promptTokenCount": call.prompt_tokens, "candidatesTokenCount": output,
            "totalTokenCount": call.prompt_tokens + output}


def register(app: App, state: MockState) -> None:
    async def handle(request: Request, model: str, stream: bool) -> Response | StreamingResponse:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not state.key_ok("gemini", key):
            return error(403, "API key not valid. Please pass a valid API key.")
        body = read(request, GeminiGenerate)
        prompt, turns = _prompt(body)
        config = body.get("generationConfig") or {}
        call = state.begin("gemini", model, request, prompt, turns, stream, config.get("maxOutputTokens"))
        if call.behaviour.fails(state.rng):
            status = call.behaviour.status or 500
            return error(status, f"mock: forced {status} for {model}", state.failed(call, status))
        if call.overflows():
            state.failed(call, 400)
            return error(400, f"The input token count ({call.prompt_tokens}) exceeds the maximum number of tokens "
                              f"allowed ({call.behaviour.context_window}).")
        offered = tools.gemini_tools(body)
        tool_call = None
        contents = body.get("contents") or [{}]
        answered = any("functionResponse" in p or "function_response" in p for p in contents[-1].get("parts", []))
        if offered and not answered and not call.behaviour.ignore_tools:
            tool_call = tools.call_for(offered, prompt, call.behaviour.tool_fault)
            call.entry["tool_call"] = tool_call.name
        elif call.behaviour.reply is None and (_field(config, "responseJsonSchema", "responseSchema") or
                                               _field(config, "responseMimeType") == "application/json"):
            # the API takes proto JSON: camelCase or snake_case field names (LiteLLM sends snake_case)
            call.text = tools.structured_text(_field(config, "responseJsonSchema", "responseSchema")
                                              or {"type": "OBJECT", "properties": {"answer": {"type": "STRING"}}})
        sse = request.query.get("alt") == "sse"
        if tool_call is not None:  # Gemini sends a function call whole, in one chunk even when streaming
            await state.pace(call)
            used = count_tokens(tool_call.arguments) + 4
            state.answered(call, used)
            part = {"functionCall": {"name": tool_call.name, "args": tool_call.parsed()}}
            payload = {"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0,
                                       "finishReason": "STOP"}], "usageMetadata": _usage(call, used),
                       "modelVersion": model}
            if not stream:
                return json_response(payload)
            data = json.dumps(payload, separators=(",", ":")).encode()
            return StreamingResponse(_once(b"data: " + data + b"\r\n\r\n" if sse else b"[" + data + b"]"),
                                     content_type="text/event-stream" if sse else "application/json")
        if stream:
            return StreamingResponse(_stream(state, call, sse),
                                     content_type="text/event-stream" if sse else "application/json")
        await state.pace(call)
        tokens = call.tokens()
        state.answered(call, len(tokens))
        return json_response({"candidates": [_candidate("".join(tokens), "STOP")],
                              "usageMetadata": _usage(call, len(tokens)), "modelVersion": model})

    @app.route("POST", "/v1beta/models/{model}:generateContent")
    async def generate(request: Request) -> Response | StreamingResponse:
        return await handle(request, request.params["model"], stream=False)

    @app.route("POST", "/v1beta/models/{model}:streamGenerateContent")
    async def stream_generate(request: Request) -> Response | StreamingResponse:
        return await handle(request, request.params["model"], stream=True)


def _field(config: dict[str, Any], *names: str) -> Any:
    """A generationConfig field by its camelCase name, also found under its snake_case one."""
    for name in names:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
        value = config.get(name, config.get(snake))
        if value:
            return value
    return None


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _stream(state: MockState, call: Call, sse: bool) -> AsyncIterator[bytes]:
    sent = 0
    total = len(call.tokens())

    def encode(payload: dict[str, Any], first: bool) -> bytes:
        data = json.dumps(payload, separators=(",", ":")).encode()
        if sse:
            return b"data: " + data + b"\r\n\r\n"
        return (b"[" if first else b",\r\n") + data

    def frame(index: int, token: str) -> bytes:
        nonlocal sent
        sent += 1
        finish = "STOP" if index == total - 1 else None
        return encode({"candidates": [_candidate(token, finish)], "usageMetadata": _usage(call, sent),
                       "modelVersion": call.model}, first=index == 0)

    async for data in state.stream_tokens(call, frame):
        yield data
    state.answered(call, sent)
    if not sse:
        yield b"]"
