"""Shared state of one mock provider server: behaviours, the request log, the random source."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from harness._http import Request, StreamAborted
from harness.standins.mockllm.behaviour import Behaviour, BehaviourTable
from harness.standins.mockllm.text import count_tokens, reply_tokens

__all__ = ["Call", "MockState"]

_MASKED_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "api-key"}
# each provider's in-stream error, as its API sends one after a 200 (Gemini: its SSE form)
_STREAM_ERRORS = {
    "anthropic": (b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},'
                  b'"request_id":"req_mock_in_stream"}\n\n'),
    "openai": b'data: {"error":{"message":"The server had an error while processing your request.",'
              b'"type":"server_error","param":null,"code":null}}\n\n',
    "gemini": b'data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\r\n\r\n',
}


@dataclass(slots=True)
class Call:
    """One provider call as the mock understood it."""

    api: str
    model: str
    prompt: str
    prompt_tokens: int
    stream: bool
    max_tokens: int | None
    behaviour: Behaviour
    entry: dict[str, Any] = field(default_factory=dict)
    text: str | None = None  # the whole answer, where it is fixed (structured output): streamed in pieces

    def overflows(self) -> bool:
        """The prompt is longer than the model's (mocked) context window."""
        window = self.behaviour.context_window
        return window is not None and self.prompt_tokens > window

    def tokens(self) -> list[str]:
        if self.text is not None:
            return [self.text[i:i + 8] for i in range(0, len(self.text), 8)] or [""]
        if self.behaviour.reply is not None:
            words = self.behaviour.reply.split(" ")
            return [(" " if i else "") + w for i, w in enumerate(words)]
        count = self.behaviour.output_tokens
        if self.max_tokens:
            count = self.max_tokens if self.behaviour.fill_max_tokens else min(count, self.max_tokens)
        return reply_tokens(self.model, self.prompt, count)


class MockState:
    def __init__(self, seed: int = 0, log_size: int = 10_000, api_keys: dict[str, str] | None = None) -> None:
        self.behaviours = BehaviourTable()
        self.log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self.rng = random.Random(seed)
        self.api_keys = api_keys or {}
        self._seq = 0
        self._paused_until = 0.0
        self._forced: dict[tuple[str, Behaviour], int] = {}  # forced failures per model under one behaviour

    def pause(self, seconds: float) -> None:
        """Holds every answer (already waiting or arriving) until `seconds` from now: a provider stall."""
        self._paused_until = time.monotonic() + seconds

    async def _hold(self) -> None:
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def begin(self, api: str, model: str, request: Request, prompt: str, extra_tokens: int, stream: bool,
              max_tokens: int | None) -> Call:
        self._seq += 1
        headers = {k: ("***" if k in _MASKED_HEADERS else v) for k, v in request.headers.items()}
        entry: dict[str, Any] = {
            "seq": self._seq,
            "ts": time.time(),
            "api": api,
            "path": request.path,
            "model": model,
            "stream": stream,
            "headers": headers,
            "body": request.body.decode("utf-8", "replace"),
            "prompt_chars": len(prompt),
            "status": 200,
        }
        self.log.append(entry)
        prompt_tokens = count_tokens(prompt) + extra_tokens
        return Call(api, model, prompt, prompt_tokens, stream, max_tokens, self.behaviours.get(model, api), entry)

    def key_ok(self, api: str, presented: str | None) -> bool:
        """Real providers reject a call without a key; when a key is configured, it must match."""
        if not presented:
            return False
        expected = self.api_keys.get(api)
        return expected is None or presented == expected

    async def pace(self, call: Call) -> None:
        """Non-streaming: wait latency plus generation time at tokens_per_s."""
        b = call.behaviour
        delay = b.delay_s(self.rng) + b.token_gap_s() * len(call.tokens())
        started = time.perf_counter()
        if delay:
            await asyncio.sleep(delay)
        await self._hold()
        # what the answer actually waited (timer overshoot included): the truth a latency bench compares with
        call.entry["delay_ms"] = round((time.perf_counter() - started) * 1000, 4)

    async def stream_tokens(self, call: Call, frame: Callable[[int, str], bytes]) -> AsyncIterator[bytes]:
        """Yields one framed chunk per token, honouring ttft, pace and a stream cut."""
        b = call.behaviour
        first = b.delay_s(self.rng, first_token=True)
        started = time.perf_counter()
        if first:
            await asyncio.sleep(first)
        await self._hold()
        call.entry["delay_ms"] = round((time.perf_counter() - started) * 1000, 4)
        gap = b.token_gap_s()
        for index, token in enumerate(call.tokens()):
            if b.stream_cut_after is not None and index >= b.stream_cut_after:
                call.entry["status"] = "cut"
                raise StreamAborted
            if b.stream_error_after is not None and index >= b.stream_error_after:
                # after HTTP 200, as providers do when overloaded mid-answer: an error event, then the end
                call.entry["status"] = "stream_error"
                yield _STREAM_ERRORS[call.api]
                raise StreamAborted
            if index and gap:
                await asyncio.sleep(gap)
            yield frame(index, token)

    def forced_reset(self) -> None:
        """A behaviour was set or reset: its escalation starts again."""
        self._forced.clear()

    def failed(self, call: Call, status: int) -> float | None:
        """Records a refused call; returns the Retry-After to send with a forced failure (escalating by the
        behaviour's growth with each forced failure of the model since its behaviour was set)."""
        call.entry["status"] = status
        b = call.behaviour
        if b.retry_after_s is None or status != b.status:
            return None
        count = self._forced.get((call.model, b), 0)
        self._forced[(call.model, b)] = count + 1
        value = round(b.retry_after_s * b.retry_after_growth ** count, 3)
        call.entry["retry_after_s"] = value
        return value

    @staticmethod
    def answered(call: Call, completion_tokens: int) -> None:
        """Records the usage the provider reported, so a check can compare it with gateway and trace."""
        call.entry["usage"] = {"prompt_tokens": call.prompt_tokens, "completion_tokens": completion_tokens}

    def requests(self, since: int = 0, model: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.log if e["seq"] > since and (model is None or e["model"] == model)]
