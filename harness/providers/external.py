"""The external provider: a Stack over an existing deployment's URLs and keys, starting nothing.

What the harness may do there is what the target's fields give it (`Stack.capabilities`); it owns
nothing, so checks that would drive the deployment to a cap or run reference rigs against it SKIP.
"""

from __future__ import annotations

from harness.providers.base import Provider
from harness.providers.processes import reported_litellm_version
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
        # LiteLLM names itself on every response; an unreachable gateway is GW-1's verdict, not an error here
        stack.versions["litellm"] = reported_litellm_version(stack.health_url)
        return stack

    def stop(self) -> None:
        """Nothing to stop: an external deployment is not ours."""
