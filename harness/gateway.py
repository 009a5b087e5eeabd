"""The gateway as its clients see it: an httpx client with the calls every check makes.

`Stack.gateway()` returns a `GatewayClient`: plain httpx for anything else (`get("/v1/models")`), and
`chat()` for one chat completion with what a check needs to judge it afterwards. Each call carries a
unique nonce in its prompt, so the mock's request log and the Langfuse trace can be joined to it; its
time is measured from outside the gateway, on a monotonic clock. A call with a trace id sends it both
ways LiteLLM's Langfuse callbacks read one: `metadata.trace_id` (the classic `langfuse` callback) and
a W3C `traceparent` header (`langfuse_otel`, which joins the caller's trace), so the same check finds
its trace whichever transport the gateway uses.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Call", "GatewayClient", "new_nonce", "new_trace_id", "trace_headers"]

_W3C_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def new_trace_id() -> str:
    """32 lower-case hex digits: a W3C trace id, which Langfuse keeps as the trace's id on both transports."""
    return uuid.uuid4().hex


def new_nonce() -> str:
    return uuid.uuid4().hex[:16]


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

    @property
    def text(self) -> str | None:
        """The answer's message content, where the call succeeded."""
        if self.status != 200:
            return None
        return (self.body.get("choices") or [{}])[0].get("message", {}).get("content")

    @property
    def cache_hit(self) -> bool:
        """The gateway's own word that it answered from its cache (LiteLLM names the key on a hit only)."""
        return self.status == 200 and bool(self.headers.get("x-litellm-cache-key"))


class GatewayClient(httpx.Client):
    """An httpx client for the gateway (base URL and key set), with `chat()` for checks."""

    def chat(self, model: str, content: str | None = None, *, nonce: str | None = None,
             metadata: dict[str, Any] | None = None, cache: bool | dict[str, Any] = False, **extra: Any) -> Call:
        """POST /v1/chat/completions with `[nonce] content` as the user's message (the same nonce repeats
        a prompt exactly); `cache=False` bypasses the gateway's cache, `True` leaves it to the gateway, a
        dict is sent as is."""
        nonce = nonce or new_nonce()
        text = f"[{nonce}] {content or 'Say something short.'}"
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
        if metadata:
            body["metadata"] = metadata
        if cache is False:
            body["cache"] = {"no-cache": True}
        elif isinstance(cache, dict):
            body["cache"] = cache
        started = time.monotonic()
        response = self.post("/v1/chat/completions", json=body,
                             headers=trace_headers((metadata or {}).get("trace_id")))
        seconds = time.monotonic() - started
        try:
            parsed = response.json()
        except ValueError:
            parsed = {"raw": response.text[:300]}
        return Call(model, nonce, response.status_code, parsed if isinstance(parsed, dict) else {"raw": parsed},
                    dict(response.headers), seconds, started)
