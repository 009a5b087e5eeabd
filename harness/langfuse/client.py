"""A client for the Langfuse public API: the read endpoints the checks use, and waiting for a trace.

It works the same against a real Langfuse v3 and the stand-in; only the base URL and keys differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["LangfuseClient", "TraceWait"]


@dataclass(frozen=True, slots=True)
class TraceWait:
    """The outcome of waiting for a trace: the trace (or None on timeout) and the seconds it took."""

    trace: dict[str, Any] | None
    seconds: float
    polls: int


class LangfuseClient:
    def __init__(self, base_url: str, public_key: str, secret_key: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, auth=(public_key, secret_key), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def health(self) -> dict[str, Any]:
        response = self._http.get("/api/public/health")
        response.raise_for_status()
        return dict(response.json())

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        response = self._http.get(f"/api/public/traces/{trace_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def traces(self, **filters: Any) -> list[dict[str, Any]]:
        """All traces matching the filters (name, sessionId, userId, fromTimestamp ...), every page."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self._http.get("/api/public/traces", params={**filters, "page": page, "limit": 100})
            response.raise_for_status()
            body = response.json()
            items += body["data"]
            if page >= body["meta"]["totalPages"]:
                return items
            page += 1

    def create_model(self, name: str, match_pattern: str, input_price: float | None,
                     output_price: float | None) -> dict[str, Any]:
        """A custom model definition (USD per token): Langfuse prices generations that arrive without a
        cost (OTLP exports) by the definition whose pattern matches their model."""
        response = self._http.post("/api/public/models", json={
            "modelName": name, "matchPattern": match_pattern, "unit": "TOKENS", "inputPrice": input_price,
            "outputPrice": output_price})
        response.raise_for_status()
        return dict(response.json())

    def observations(self, **filters: Any) -> list[dict[str, Any]]:
        response = self._http.get("/api/public/observations", params={**filters, "limit": 100})
        response.raise_for_status()
        return list(response.json()["data"])

    def wait_for_trace(self, trace_id: str, deadline_s: float, poll_s: float = 0.25,
                       require_observations: int = 1, since: float | None = None) -> TraceWait:
        """Polls until the trace and its observations are readable, or `deadline_s` passes.

        `since` is a `time.monotonic()` stamp (the call that made the trace), so the time reported
        is from the call, not from when polling began.
        """
        started = time.monotonic() if since is None else since
        polls = 0
        while True:
            polls += 1
            trace = self.trace(trace_id)
            elapsed = time.monotonic() - started
            if trace is not None and len(trace.get("observations") or []) >= require_observations:
                return TraceWait(trace, elapsed, polls)
            if elapsed >= deadline_s:
                return TraceWait(None, elapsed, polls)
            time.sleep(min(poll_s, max(deadline_s - elapsed, 0.0)))
