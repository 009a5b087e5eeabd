"""Pre-flight: every endpoint a target names is reached once before any suite runs.

An unreachable one stops the run with one line naming the field, the URL and the fix, instead of a
suite of failures that all say the same thing. Any HTTP answer counts as reachable (a 401 or a 404
proves something listens there); only a connection that cannot be made or answered does not.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from harness.target import Target

__all__ = ["endpoints", "unreachable"]


def endpoints(target: Target) -> dict[str, str]:
    """Each URL the target names, by the field that names it."""
    found: dict[str, str | None] = {}
    if target.gateway is not None:
        found["gateway.url"] = target.gateway.url
        if target.gateway.health_url and target.gateway.health_url != target.gateway.url:
            found["gateway.health_url"] = target.gateway.health_url
    if target.langfuse is not None:
        found["langfuse.url"] = target.langfuse.url
    for name in ("mock_url", "toxiproxy_url", "router_url", "telegram_url", "alerts_url"):
        found[name] = getattr(target, name)
    return {field: url.rstrip("/") for field, url in found.items() if url}


def _reach(url: str, timeout_s: float) -> str | None:
    try:
        httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {str(exc)[:120] or 'no answer'}"
    return None


def unreachable(target: Target, timeout_s: float = 5.0) -> str | None:
    """None when every endpoint answered; else one line naming each one that did not, and the fix."""
    urls = endpoints(target)
    with ThreadPoolExecutor(max(1, len(urls))) as pool:
        errors = dict(zip(urls, pool.map(lambda url: _reach(url, timeout_s), urls.values()), strict=True))
    dead = [f"{field}: {urls[field]} is unreachable ({error})" for field, error in errors.items() if error]
    if not dead:
        return None
    return "; ".join(dead) + "; check the URL in the target file, or start that service, then run again"
