"""One chat call through the gateway, with what every check needs to judge it afterwards.

Each call carries a unique nonce in its prompt, so the mock's request log and the Langfuse trace
can be joined to it; the time is measured from outside the gateway, on a monotonic clock. A call
with a trace id sends it both ways LiteLLM's Langfuse callbacks read one: `metadata.trace_id` (the
classic `langfuse` callback) and a W3C `traceparent` header (`langfuse_otel`, which joins the
caller's trace), so the same check finds its trace whichever transport the gateway uses.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from harness.stack import Stack

__all__ = ["Call", "chat", "new_trace_id", "provider_entries", "trace_headers"]

_W3C_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def new_trace_id() -> str:
    """32 lower-case hex digits: a W3C trace id, which Langfuse keeps as the trace's id on both transports."""
    return uuid.uuid4().hex


def trace_headers(trace_id: str | None) -> dict[str, str]:
    """`traceparent` for a W3C trace id (a fresh parent span, sampled); nothing for any other id."""
    if not trace_id or not _W3C_TRACE_ID.fullmatch(trace_id) or trace_id == "0" * 32:
        return {}
    return {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}


@dataclass
class Call:
    model: str
    nonce: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    seconds: float
    started: float

    @property
    def served_by(self) -> str | None:
        return self.headers.get("x-litellm-model-group") if self.status == 200 else None

    @property
    def cost(self) -> float | None:
        value = self.headers.get("x-litellm-response-cost")
        return float(value) if value not in (None, "", "None") else None

    @property
    def usage(self) -> dict[str, int]:
        return dict(self.body.get("usage") or {})


def chat(stack: Stack, model: str, content: str | None = None, *, key: str | None = None,
         metadata: dict[str, Any] | None = None, cache: bool | dict[str, Any] = False, timeout: float = 60.0,
         **extra: Any) -> Call:
    """POST /v1/chat/completions; `cache=False` bypasses the gateway's cache, a dict is sent as is."""
    nonce = uuid.uuid4().hex[:16]
    text = f"[{nonce}] {content or 'Say something short.'}"
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    if metadata:
        body["metadata"] = metadata
    if cache is False:
        body["cache"] = {"no-cache": True}
    elif isinstance(cache, dict):
        body["cache"] = cache
    started = time.monotonic()
    with stack.gateway(key=key, timeout=timeout) as client:
        response = client.post("/v1/chat/completions", json=body,
                               headers=trace_headers((metadata or {}).get("trace_id")))
    seconds = time.monotonic() - started
    try:
        parsed = response.json()
    except ValueError:
        parsed = {"raw": response.text[:300]}
    return Call(model, nonce, response.status_code, parsed if isinstance(parsed, dict) else {"raw": parsed},
                dict(response.headers), seconds, started)


def provider_entries(stack: Stack, call: Call, since: int = 0) -> list[dict[str, Any]] | None:
    """What reached the providers for this call (by its nonce), or None without provider control."""
    mock = stack.mock()
    if mock is None:
        return None
    try:
        return [e for e in mock.requests(since=since) if call.nonce in e["body"]]
    finally:
        mock.close()
