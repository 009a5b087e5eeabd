"""The external provider: a Stack over an existing deployment's URLs and keys, starting nothing."""

from __future__ import annotations

import httpx

from harness.stack import Stack
from harness.target import Target

__all__ = ["ExternalProvider"]


class ExternalProvider:
    def __init__(self, target: Target) -> None:
        if target.gateway is None:
            raise ValueError("an external target needs gateway.url")
        self.target = target

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Stack:
        gateway = self.target.gateway
        assert gateway is not None
        versions: dict[str, str] = {}
        try:
            # LiteLLM names itself on every response; an unreachable gateway is GW-1's verdict, not an error here
            response = httpx.get(f"{gateway.health_url or gateway.url}/health/readiness", timeout=5.0)
            versions["litellm"] = response.headers.get("x-litellm-version") or \
                str(response.json().get("litellm_version", "unknown"))
        except (httpx.HTTPError, ValueError):
            versions["litellm"] = "unreachable"
        return Stack(target=self.target, provider="external", gateway_url=gateway.url.rstrip("/"),
                     master_key=gateway.master_key, health_url=(gateway.health_url or gateway.url).rstrip("/"),
                     mock_url=self.target.mock_url, toxiproxy_url=self.target.toxiproxy_url,
                     standins=list(self.target.standins), versions=versions)

    def stop(self) -> None:
        """Nothing to stop: an external deployment is not ours."""
