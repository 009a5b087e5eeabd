"""The OpenAI wire format: `/v1/chat/completions` (plain and SSE) and `/v1/embeddings`."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from harness._http import App, Request, Response, StreamingResponse, json_response
from harness.standins.mockllm import tools
from harness.standins.mockllm.requests import OpenAIChat, OpenAIEmbeddings, read
from harness.standins.mockllm.state import Call, MockState
from harness.standins.mockllm.text import content_text, count_tokens, embed

_ERROR_TYPES = {429: "rate_limit_exceeded", 500: "server_error", 503: "service_unavailable"}


def error(status: int, message: str, retry_after: float | None = None, code: str | None = None) -> Response:
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
    kind = "invalid_request_error" if status == 400 else _ERROR_TYPES.get(status, "api_error")
    body = {"error": {"message": message, "type": kind, "param": "messages" if code else None,
                      "code": code or _ERROR_TYPES.get(status, str(status))}}
    return json_response(body, status, headers)


def overflow(call: Call) -> Response:
    """OpenAI's own answer to a prompt longer than the context window."""
    window = call.behaviour.context_window
    return error(400, f"This model's maximum context length is {window} tokens. However, your messages resulted in "
                      f"{call.prompt_tokens} tokens. Please reduce the length of the messages.",
                 code="context_length_exceeded")


def refused(state: MockState, call: Call) -> Response | None:
    """The forced failure or the context-length 400 this call gets, in OpenAI's format; None: answer it."""
    if call.behaviour.fails(state.rng):
        status = call.behaviour.status or 500
        return error(status, f"mock: forced {status} for {call.model}", state.failed(call, status))
    if call.overflows():
        state.failed(call, 400)
        return overflow(call)
    return None


def _key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else request.headers.get("api-key")


def register(app: App, state: MockState) -> None:
    @app.route("POST", "/v1/chat/completions")
    async def chat(request: Request) -> Response | StreamingResponse:
        if not state.key_ok("openai", _key(request)):
            return error(401, "Incorrect API key provided.")
        body = read(request, OpenAIChat)
        messages = body["messages"]
        prompt = "\n".join(content_text(m.get("content")) for m in messages)
        stream = bool(body.get("stream"))
        call = state.begin("openai", body["model"], request, prompt, 4 * len(messages) + 3, stream,
                           body.get("max_tokens") or body.get("max_completion_tokens"))
        refusal = refused(state, call)
        if refusal is not None:
            return refusal
        offered = tools.openai_tools(body)
        tool_call = None
        if offered and messages[-1].get("role") != "tool" and not call.behaviour.ignore_tools:
            tool_call = tools.call_for(tools.forced(body, offered), prompt, call.behaviour.tool_fault)
            call.entry["tool_call"] = tool_call.name
        elif (body.get("response_format") or {}).get("type") in ("json_schema", "json_object") and \
                call.behaviour.reply is None:
            spec = body["response_format"]
            call.text = tools.structured_text((spec.get("json_schema") or {}).get("schema") or _ANY_OBJECT)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if stream and tool_call is not None:
            return StreamingResponse(_stream_tool_call(state, call, tool_call, include_usage))
        if stream:
            return StreamingResponse(_stream(state, call, include_usage))
        await state.pace(call)
        if tool_call is not None:
            used = count_tokens(tool_call.arguments) + 8
            state.answered(call, used)
            message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None,
                                       "tool_calls": [_tool_call(tool_call)]}
            return json_response(_completion(call, message, "tool_calls", used))
        text = "".join(call.tokens())
        state.answered(call, len(call.tokens()))
        return json_response(_completion(call, {"role": "assistant", "content": text, "refusal": None}, "stop",
                                         len(call.tokens())))

    @app.route("POST", "/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        if not state.key_ok("openai", _key(request)):
            return error(401, "Incorrect API key provided.")
        body = read(request, OpenAIEmbeddings)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        texts = [i if isinstance(i, str) else " ".join(map(str, i)) for i in inputs]
        call = state.begin("openai", body["model"], request, "\n".join(texts), 0, False, None)
        if call.behaviour.fails(state.rng):
            status = call.behaviour.status or 500
            return error(status, f"mock: forced {status} for {call.model}", state.failed(call, status))
        await state.pace(call)
        dims = int(body.get("dimensions") or 1536)
        tokens = sum(count_tokens(t) for t in texts)
        return json_response({
            "object": "list",
            "model": call.model,
            "data": [{"object": "embedding", "index": i, "embedding": embed(t, dims)} for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })

    @app.route("GET", "/v1/models")
    async def models(request: Request) -> Response:
        return json_response({"object": "list", "data": []})


_ANY_OBJECT = {"type": "object", "properties": {"answer": {"type": "string"}}}


def _tool_call(call: tools.ToolCall) -> dict[str, Any]:
    return {"id": f"call_{call.id}", "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def _completion(call: Call, message: dict[str, Any], finish: str, completion: int) -> dict[str, Any]:
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": call.model, "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": _usage(call, completion)}


def _usage(call: Call, completion: int) -> dict[str, Any]:
    return {"prompt_tokens": call.prompt_tokens, "completion_tokens": completion,
            "total_tokens": call.prompt_tokens + completion}


Chunk = Callable[..., bytes]


def _chunks(call: Call) -> Chunk:
    """The SSE chunk writer of one streamed answer: `chunk(delta, finish=None, usage=None)`."""
    ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> bytes:
        payload: dict[str, Any] = {"id": ident, "object": "chat.completion.chunk", "created": created,
                                   "model": call.model, "system_fingerprint": "fp_mock",
                                   "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                "finish_reason": finish}] if usage is None else []}
        if usage is not None:
            payload["usage"] = usage
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    return chunk


async def _stream(state: MockState, call: Call, include_usage: bool) -> AsyncIterator[bytes]:
    chunk = _chunks(call)

    sent = 0

    def frame(index: int, token: str) -> bytes:
        nonlocal sent
        sent += 1
        head = chunk({"role": "assistant", "content": ""}) if index == 0 else b""
        return head + chunk({"content": token})

    async for data in state.stream_tokens(call, frame):
        yield data
    state.answered(call, sent)
    yield chunk({}, "stop")
    if include_usage:
        yield chunk({}, usage=_usage(call, sent))
    yield b"data: [DONE]\n\n"


async def _stream_tool_call(state: MockState, call: Call, tool_call: tools.ToolCall,
                            include_usage: bool) -> AsyncIterator[bytes]:
    """A streamed tool call: the call's id and name first, then its arguments in pieces (OpenAI's deltas)."""
    chunk = _chunks(call)

    first = {"index": 0, "id": f"call_{tool_call.id}", "type": "function",
             "function": {"name": tool_call.name, "arguments": ""}}
    call.text = tool_call.arguments  # paced and cut like any stream, piece by piece

    def frame(index: int, piece: str) -> bytes:
        head = chunk({"role": "assistant", "content": None, "tool_calls": [first]}) if index == 0 else b""
        return head + chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})

    async for data in state.stream_tokens(call, frame):
        yield data
    used = count_tokens(tool_call.arguments) + 8
    state.answered(call, used)
    yield chunk({}, "tool_calls")
    if include_usage:
        yield chunk({}, usage=_usage(call, used))
    yield b"data: [DONE]\n\n"
