"""A gateway test double in front of the mock providers, with a retry policy chosen per test: the RTY
checks' negative controls (a client that retries instantly, retries a 400, never stops) and a positive
one (honours Retry-After, backs off, falls back down the chain, answers 503 + Retry-After when every
deployment cools down); `empty-200` answers a provider's 422 with a 200 and no body, as the pinned
LiteLLM was seen to. It speaks the OpenAI chat API to the harness and to the mock."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
import yaml

from harness._http import App, Request, Response, json_response

__all__ = ["Policy", "double_config", "retry_double"]

Kind = Literal["polite", "instant", "retries-4xx", "unbounded", "bare-500", "empty-200"]
CHAIN = ("gpt-4", "claude-3", "gemini-2")
UPSTREAM = {"gpt-4": "gpt-4-turbo", "claude-3": "claude-3-5-sonnet-20241022", "gemini-2": "gemini-2.0-flash-exp"}


@dataclass
class Policy:
    kind: Kind
    num_retries: int = 2
    cooldown_after: int = 2  # failed client requests in a row before the double answers by itself
    failures: int = field(default=0, init=False)
    cooling_until: float = field(default=0.0, init=False)


def double_config(folder: Path, num_retries: int) -> Path:
    """The LiteLLM config the double behaves as (what the checks read: models, chain, num_retries)."""
    path = folder / "double-config.yaml"
    path.write_text(yaml.safe_dump({
        "model_list": [{"model_name": alias, "litellm_params": {"model": f"openai/{model}"}}
                       for alias, model in UPSTREAM.items()],
        "router_settings": {"num_retries": num_retries, "fallbacks": [{CHAIN[0]: list(CHAIN[1:])}]}}))
    return path


def retry_double(mock_url: str, policy: Policy) -> App:
    app = App()

    async def attempt(client: httpx.AsyncClient, alias: str, body: dict[str, object]) -> httpx.Response:
        return await client.post(f"{mock_url}/v1/chat/completions", json={**body, "model": UPSTREAM[alias]},
                                 headers={"Authorization": "Bearer sk-double"})

    async def one_model(client: httpx.AsyncClient, alias: str, body: dict[str, object]) -> httpx.Response:
        tries = 20 if policy.kind == "unbounded" else policy.num_retries + 1
        response = await attempt(client, alias, body)
        for _ in range(tries - 1):
            retryable = response.status_code in (429, 500, 502, 503, 529) or (
                policy.kind == "retries-4xx" and response.status_code >= 400)
            if not retryable:
                break
            if policy.kind == "polite":
                asked = float(response.headers.get("retry-after") or 0)
                await asyncio.sleep(max(asked, 0.3))
            elif policy.kind in ("retries-4xx", "unbounded"):
                await asyncio.sleep(float(response.headers.get("retry-after") or 0.01))
            response = await attempt(client, alias, body)  # "instant": straight away
        return response

    @app.route("POST", "/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = request.json() or {}
        if time.monotonic() < policy.cooling_until:
            if policy.kind == "bare-500":
                return json_response({"error": {"message": "No deployments available"}}, 500)
            return json_response({"error": {"message": "No deployments available"}}, 503, {"retry-after": "5"})
        start = CHAIN.index(str(body.get("model"))) if body.get("model") in CHAIN else 0
        async with httpx.AsyncClient(timeout=30) as client:
            response = None
            for alias in CHAIN[start:]:
                response = await one_model(client, alias, body)
                if response.status_code == 200 or response.status_code in (400, 403, 404, 422):
                    break
        assert response is not None
        if policy.kind == "empty-200" and response.status_code == 422:
            return json_response(None, 200)  # as LiteLLM 1.103.0 answers a provider's 422 (RTY-2)
        policy.failures = 0 if response.status_code == 200 else policy.failures + 1
        if policy.failures >= policy.cooldown_after:
            policy.cooling_until = time.monotonic() + 5
        return json_response(response.json(), response.status_code)

    return app
