"""LD-6: what the gateway adds, measured from outside: the same request to the provider directly
and through the gateway, interleaved pair by pair on kept-alive connections, so drift hits both.

LiteLLM's `x-litellm-overhead-duration-ms` header is recorded beside it; it is a self-report and
misses most of the cost (13.1 ms measured against 1.9 ms claimed on this machine).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

from harness.load.samples import percentile

__all__ = ["Overhead", "measure_overhead"]


@dataclass
class Overhead:
    pairs: int
    direct_ms: dict[str, float | None]
    gateway_ms: dict[str, float | None]
    added_ms: dict[str, float | None]
    header_ms: dict[str, float | None]
    failures: dict[str, int] = field(default_factory=dict)


def _dist(values: list[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "p99": percentile(values, 0.99)}


def measure_overhead(gateway_url: str, gateway_key: str, direct_url: str, direct_key: str, model: str,
                     deployment: str, pairs: int = 200, warmup: int = 10) -> Overhead:
    """`pairs` round trips each way (after `warmup`), alternating which side goes first."""
    body = {"messages": [{"role": "user", "content": "overhead probe"}], "max_tokens": 16}
    direct, gateway, header, failures = [], [], [], {"direct": 0, "gateway": 0}
    with httpx.Client(base_url=direct_url, headers={"Authorization": f"Bearer {direct_key}"}, timeout=30) as d, \
            httpx.Client(base_url=gateway_url, headers={"Authorization": f"Bearer {gateway_key}"}, timeout=30) as g:
        sides = {"direct": (d, deployment, direct), "gateway": (g, model, gateway)}
        for index in range(warmup + pairs):
            order = ("direct", "gateway") if index % 2 else ("gateway", "direct")
            for side in order:
                client, name, sink = sides[side]
                payload = {**body, "model": name}
                if side == "gateway":
                    payload["cache"] = {"no-cache": True}  # a cache hit would measure the cache, not the path
                started = time.perf_counter()
                response = client.post("/v1/chat/completions", json=payload)
                elapsed = (time.perf_counter() - started) * 1000
                if index < warmup:
                    continue
                if response.status_code != 200:
                    failures[side] += 1
                    continue
                sink.append(elapsed)
                if side == "gateway" and "x-litellm-overhead-duration-ms" in response.headers:
                    header.append(float(response.headers["x-litellm-overhead-duration-ms"]))
    direct_d, gateway_d = _dist(direct), _dist(gateway)
    added = {k: (gateway_d[k] - direct_d[k]) if gateway_d[k] is not None and direct_d[k] is not None else None
             for k in direct_d}
    return Overhead(pairs, direct_d, gateway_d, added, _dist(header), failures)
