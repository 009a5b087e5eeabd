"""The Anthropic wire format: `/v1/messages`, plain and SSE (message_start … message_stop)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from harness._http import App, Request, Response, StreamingResponse, json_response
from harness.standins.mockllm import tools
from harness.standins.mockllm.state import Call, MockState
from harness.standins.mockllm.text import content_text, count_tokens

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
                500: "api_error", 503: "api_error", 529: "overloaded_error"}


def error(status: int, message: str, retry_after: float | None = None) -> Response:
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
    body = {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}}
    return json_response(body, status, headers)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def register(app: App, state: MockState) -> None:
    @app.route("POST", "/v1/messages")
    async def messages(request: Request) -> Response | StreamingResponse:
        if not state.key_ok("anthropic", request.headers.get("x-api-key")):
            return error(401, "invalid x-api-key")
        body = request.json()
        system = body.get("system")
        parts = [content_text(system)] if system else []
        parts += [content_text(m.get("content")) for m in body["messages"]]
        prompt = "\n".join(parts)
        stream = bool(body.get("stream"))
        call = state.begin("anthropic", body["model"], request, prompt, 3 * len(body["messages"]), stream,
                           body.get("max_tokens"))
        if call.behaviour.fails(state.rng):
            status = call.behaviour.status or 500
            return error(status, f"mock: forced {status} for {call.model}", state.failed(call, status))
        if call.overflows():  # Anthropic's own words for it
            state.failed(call, 400)
            return error(400, f"prompt is too long: {call.prompt_tokens} tokens > {call.behaviour.context_window} "
                              "maximum")
        offered = tools.anthropic_tools(body)
        tool_call = None
        if offered and not _tool_result_last(body["messages"]) and not call.behaviour.ignore_tools:
            tool_call = tools.call_for(tools.forced(body, offered), prompt, call.behaviour.tool_fault)
            call.entry["tool_call"] = tool_call.name
        if stream:
            return StreamingResponse(_stream(state, call) if tool_call is None else _stream_tool(state, call,
                                                                                               tool_call))
        await state.pace(call)
        if tool_call is not None:
            used = count_tokens(tool_call.arguments) + 8
            state.answered(call, used)
            block = {"type": "tool_use", "id": f"toolu_{tool_call.id}", "name": tool_call.name,
                     "input": tool_call.parsed()}
            return json_response(_message(call, [block], "tool_use", used))
        tokens = call.tokens()
        state.answered(call, len(tokens))
        return json_response(_message(call, [{"type": "text", "text": "".join(tokens)}], "end_turn", len(tokens)))

    @app.route("POST", "/v1/messages/count_tokens")
    async def count(request: Request) -> Response:
        body = request.json()
        text = "\n".join(content_text(m.get("content")) for m in body["messages"])
        return json_response({"input_tokens": count_tokens(text) + 3 * len(body["messages"])})


def _tool_result_last(messages: list[dict[str, Any]]) -> bool:
    content = messages[-1].get("content") if messages else None
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def _message(call: Call, content: list[dict[str, Any]], stop: str, output: int) -> dict[str, Any]:
    return {"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": call.model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": call.prompt_tokens, "output_tokens": output}}


async def _stream_tool(state: MockState, call: Call, tool_call: tools.ToolCall) -> AsyncIterator[bytes]:
    """A streamed tool_use block: its id and name, then its input as `input_json_delta` pieces."""
    yield _event("message_start", {"type": "message_start", "message": {
        "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": call.model,
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": call.prompt_tokens, "output_tokens": 1}}})
    yield _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
        "type": "tool_use", "id": f"toolu_{tool_call.id}", "name": tool_call.name, "input": {}}})
    call.text = tool_call.arguments

    def frame(index: int, piece: str) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "input_json_delta", "partial_json": piece}})

    async for data in state.stream_tokens(call, frame):
        yield data
    used = count_tokens(tool_call.arguments) + 8
    state.answered(call, used)
    yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use",
                                                                      "stop_sequence": None},
                                   "usage": {"output_tokens": used}})
    yield _event("message_stop", {"type": "message_stop"})


async def _stream(state: MockState, call: Call) -> AsyncIterator[bytes]:
    ident = f"msg_{uuid.uuid4().hex[:24]}"
    yield _event("message_start", {"type": "message_start", "message": {
        "id": ident, "type": "message", "role": "assistant", "model": call.model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": call.prompt_tokens, "output_tokens": 1}}})
    yield _event("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": {"type": "text", "text": ""}})
    yield _event("ping", {"type": "ping"})
    sent = 0

    def frame(index: int, token: str) -> bytes:
        nonlocal sent
        sent += 1
        return _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "text_delta", "text": token}})

    async for data in state.stream_tokens(call, frame):
        yield data
    state.answered(call, sent)
    yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _event("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                   "usage": {"output_tokens": sent}})
    yield _event("message_stop", {"type": "message_stop"})
