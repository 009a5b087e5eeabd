"""The external provider: a Stack over an existing deployment's URLs and keys, starting nothing.

What the harness may do there is what the target's fields give it (`Stack.capabilities`); it owns
nothing, so checks that would drive the deployment to a cap or run reference rigs against it SKIP.
"""

from __future__ import annotations

import httpx

from harness.providers.base import Provider
from harness.stack import Stack
from harness.target import Target

__all__ = ["ExternalProvider"]


class ExternalProvider(Provider):
    def __init__(self, target: Target) -> None:
        if target.gateway is None:
            raise ValueError("an external target needs gateway.url")
        self.target = target

    def start(self) -> Stack:
        stack = Stack.over(self.target)
        try:
            # LiteLLM names itself on every response; an unreachable gateway is GW-1's verdict, not an error here
            response = httpx.get(f"{stack.health_url}/health/readiness", timeout=5.0)
            stack.versions["litellm"] = response.headers.get("x-litellm-version") or \
                str(response.json().get("litellm_version", "unknown"))
        except (httpx.HTTPError, ValueError):
            stack.versions["litellm"] = "unreachable"
        return stack

    def stop(self) -> None:
        """Nothing to stop: an external deployment is not ours."""
