"""The OpenAI Responses API: `POST /v1/responses`, plain and SSE, text and function calls.

LiteLLM sends an Anthropic-native `/v1/messages` call for an OpenAI deployment here (1.103.0): without it
such a call 404s and the router falls back to another provider without a word to the client.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from harness._http import App, Request, Response, StreamingResponse, json_response
from harness.standins.mockllm import tools
from harness.standins.mockllm._openai import error, refused
from harness.standins.mockllm.requests import OpenAIResponses, read
from harness.standins.mockllm.state import Call, MockState
from harness.standins.mockllm.text import content_text, count_tokens

__all__ = ["register"]


def _key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else None


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    return [i for i in raw or [] if isinstance(i, dict)]


def _text_of(item: dict[str, Any]) -> str:
    if item.get("type") == "function_call_output":
        return str(item.get("output") or "")
    if item.get("type") == "function_call":
        return str(item.get("arguments") or "")
    content = item.get("content")
    if isinstance(content, list):
        return " ".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return content_text(content)


def _offered(body: dict[str, Any]) -> list[tools.Tool]:
    if body.get("tool_choice") == "none":
        return []
    return [tools.Tool(t["name"], t.get("description") or "", t.get("parameters") or {})
            for t in body.get("tools") or [] if t.get("type") == "function" and t.get("name")]


def register(app: App, state: MockState) -> None:
    @app.route("POST", "/v1/responses")
    async def responses(request: Request) -> Response | StreamingResponse:
        if not state.key_ok("openai", _key(request)):
            return error(401, "Incorrect API key provided.")
        body = read(request, OpenAIResponses)
        items = _items(body)
        prompt = "\n".join([str(body.get("instructions") or ""), *(_text_of(i) for i in items)]).strip()
        stream = bool(body.get("stream"))
        call = state.begin("openai", body["model"], request, prompt, 4 * len(items) + 3, stream,
                           body.get("max_output_tokens"))
        refusal = refused(state, call)
        if refusal is not None:
            return refusal
        offered = _offered(body)
        answered = bool(items) and items[-1].get("type") == "function_call_output"
        tool_call = None
        if offered and not answered and not call.behaviour.ignore_tools:
            tool_call = tools.call_for(offered, prompt, call.behaviour.tool_fault)
            call.entry["tool_call"] = tool_call.name
        if stream:
            return StreamingResponse(_stream(state, call, tool_call))
        await state.pace(call)
        if tool_call is not None:
            used = count_tokens(tool_call.arguments) + 8
            output = [_function_item(tool_call)]
        else:
            used = len(call.tokens())
            output = [_message_item("".join(call.tokens()))]
        state.answered(call, used)
        return json_response(_response(call, output, used, "completed"))


def _message_item(text: str, ident: str | None = None) -> dict[str, Any]:
    return {"type": "message", "id": ident or f"msg_{uuid.uuid4().hex[:24]}", "status": "completed",
            "role": "assistant", "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def _function_item(call: tools.ToolCall, arguments: str | None = None) -> dict[str, Any]:
    return {"type": "function_call", "id": f"fc_{call.id}", "call_id": f"call_{call.id}", "name": call.name,
            "arguments": call.arguments if arguments is None else arguments, "status": "completed"}


def _response(call: Call, output: list[dict[str, Any]], used: int, status: str) -> dict[str, Any]:
    return {"id": call.entry.setdefault("response_id", f"resp_{uuid.uuid4().hex[:24]}"), "object": "response",
            "created_at": int(time.time()), "status": status, "model": call.model, "output": output,
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None,
            "instructions": None, "metadata": {}, "temperature": 1.0, "top_p": 1.0,
            "incomplete_details": None, "usage": {
                "input_tokens": call.prompt_tokens, "output_tokens": used,
                "total_tokens": call.prompt_tokens + used, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0}}}


async def _stream(state: MockState, call: Call, tool_call: tools.ToolCall | None) -> AsyncIterator[bytes]:
    seq = 0

    def event(kind: str, **data: Any) -> bytes:
        nonlocal seq
        seq += 1
        payload = {"type": kind, "sequence_number": seq, **data}
        return f"event: {kind}\ndata: ".encode() + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    yield event("response.created", response=_response(call, [], 0, "in_progress"))
    if tool_call is not None:
        item = _function_item(tool_call, arguments="")
        yield event("response.output_item.added", output_index=0, item={**item, "status": "in_progress"})
        call.text = tool_call.arguments

        def frame(index: int, piece: str) -> bytes:
            return event("response.function_call_arguments.delta", item_id=item["id"], output_index=0, delta=piece)

        async for data in state.stream_tokens(call, frame):
            yield data
        done = _function_item(tool_call)
        used = count_tokens(tool_call.arguments) + 8
        yield event("response.function_call_arguments.done", item_id=item["id"], output_index=0,
                    name=tool_call.name, arguments=tool_call.arguments)
    else:
        ident = f"msg_{uuid.uuid4().hex[:24]}"
        yield event("response.output_item.added", output_index=0,
                    item={**_message_item("", ident), "status": "in_progress", "content": []})
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event("response.content_part.added", item_id=ident, output_index=0, content_index=0, part=part)
        pieces: list[str] = []

        def frame(index: int, piece: str) -> bytes:
            pieces.append(piece)
            return event("response.output_text.delta", item_id=ident, output_index=0, content_index=0, delta=piece,
                         logprobs=[])

        async for data in state.stream_tokens(call, frame):
            yield data
        text = "".join(pieces)
        used = len(pieces)
        yield event("response.output_text.done", item_id=ident, output_index=0, content_index=0, text=text,
                    logprobs=[])
        yield event("response.content_part.done", item_id=ident, output_index=0, content_index=0,
                    part={**part, "text": text})
        done = _message_item(text, ident)
    state.answered(call, used)
    yield event("response.output_item.done", output_index=0, item=done)
    yield event("response.completed", response=_response(call, [done], used, "completed"))
