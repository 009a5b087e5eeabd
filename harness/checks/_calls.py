"""What the checks share beyond the gateway client: one chat call on a stack, and what of it reached
the providers (the mock's request log, joined by the call's nonce)."""

from __future__ import annotations

from typing import Any

from harness.gateway import Call
from harness.stack import Stack

__all__ = ["chat", "provider_entries"]


def chat(stack: Stack, model: str, content: str | None = None, *, key: str | None = None,
         metadata: dict[str, Any] | None = None, cache: bool | dict[str, Any] = False, timeout: float = 60.0,
         nonce: str | None = None, **extra: Any) -> Call:
    """One call through a fresh connection (see `GatewayClient.chat`)."""
    with stack.gateway(key=key, timeout=timeout) as client:
        return client.chat(model, content, nonce=nonce, metadata=metadata, cache=cache, **extra)


def provider_entries(stack: Stack, call: Call, since: int = 0) -> list[dict[str, Any]] | None:
    """What reached the providers for this call (by its nonce), or None without provider control."""
    mock = stack.mock()
    if mock is None:
        return None
    try:
        return [e for e in mock.requests(since=since) if call.nonce in e["body"]]
    finally:
        mock.close()
