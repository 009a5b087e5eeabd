"""The Anthropic wire format: `/v1/messages`, plain and SSE (message_start … message_stop)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from harness._http import App, Request, Response, StreamingResponse, json_response
from harness.standins.mockllm import tools
from harness.standins.mockllm.requests import AnthropicCountTokens, AnthropicMessages, read
from harness.standins.mockllm.state import Call, MockState
from harness.standins.mockllm.text import content_text, count_tokens

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
                500: "api_error", 503: "api_error", 529: "overloaded_error"}


def error(status: int, message: str, retry_after: float | None = None) -> Response:
    request_id = f"req_{uuid.uuid4().hex[:24]}"
    headers = {"request-id": request_id}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    body = {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
            "request_id": request_id}
    return json_response(body, status, headers)


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    """Anthropic's usage object with every field its API documents (no cache, no server tools here)."""
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "cache_creation": {"ephemeral_5m_input_tokens": 0,
                                                             "ephemeral_1h_input_tokens": 0},
            "server_tool_use": None, "output_tokens_details": None, "service_tier": "standard",
            "inference_geo": None}


_DELTA_USAGE = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                "server_tool_use", "output_tokens_details")


def _delta_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    # cumulative, input included, as the API sends it: clients merge it over message_start's usage
    full = _usage(input_tokens, output_tokens)
    return {key: full[key] for key in _DELTA_USAGE}


def _stop(reason: str) -> dict[str, Any]:
    return {"stop_reason": reason, "stop_sequence": None, "stop_details": None, "container": None}


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "citations": None}


def _tool_block(tool_call: tools.ToolCall, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_{tool_call.id}", "name": tool_call.name, "input": tool_input,
            "caller": {"type": "direct"}}


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def register(app: App, state: MockState) -> None:
    @app.route("POST", "/v1/messages")
    async def messages(request: Request) -> Response | StreamingResponse:
        if not state.key_ok("anthropic", request.headers.get("x-api-key")):
            return error(401, "invalid x-api-key")
        body = read(request, AnthropicMessages)
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
            return json_response(_message(call, [_tool_block(tool_call, tool_call.parsed())], "tool_use", used))
        tokens = call.tokens()
        state.answered(call, len(tokens))
        return json_response(_message(call, [_text_block("".join(tokens))], "end_turn", len(tokens)))

    @app.route("POST", "/v1/messages/count_tokens")
    async def count(request: Request) -> Response:
        body = read(request, AnthropicCountTokens)
        text = "\n".join(content_text(m.get("content")) for m in body["messages"])
        return json_response({"input_tokens": count_tokens(text) + 3 * len(body["messages"])})


def _tool_result_last(messages: list[dict[str, Any]]) -> bool:
    content = messages[-1].get("content") if messages else None
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def _message(call: Call, content: list[dict[str, Any]], stop: str | None, output: int) -> dict[str, Any]:
    return {"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": call.model,
            "content": content, **_stop(stop), "usage": _usage(call.prompt_tokens, output)}


async def _stream_tool(state: MockState, call: Call, tool_call: tools.ToolCall) -> AsyncIterator[bytes]:
    """A streamed tool_use block: its id and name, then its input as `input_json_delta` pieces."""
    yield _event("message_start", {"type": "message_start", "message": _message(call, [], None, 1)})
    yield _event("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": _tool_block(tool_call, {})})
    call.text = tool_call.arguments

    def frame(index: int, piece: str) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "input_json_delta", "partial_json": piece}})

    async for data in state.stream_tokens(call, frame):
        yield data
    used = count_tokens(tool_call.arguments) + 8
    state.answered(call, used)
    yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _event("message_delta", {"type": "message_delta", "delta": _stop("tool_use"),
                                   "usage": _delta_usage(call.prompt_tokens, used)})
    yield _event("message_stop", {"type": "message_stop"})


async def _stream(state: MockState, call: Call) -> AsyncIterator[bytes]:
    yield _event("message_start", {"type": "message_start", "message": _message(call, [], None, 1)})
    yield _event("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": _text_block("")})
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
    yield _event("message_delta", {"type": "message_delta", "delta": _stop("end_turn"),
                                   "usage": _delta_usage(call.prompt_tokens, sent)})
    yield _event("message_stop", {"type": "message_stop"})
