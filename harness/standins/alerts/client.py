"""Reads what the sink received: `AlertSink(url).notifications("budget")`, `wait_for(...)`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["AlertSink", "Notification"]


@dataclass(frozen=True)
class Notification:
    channel: str
    received_at: float
    body: Any


class AlertSink:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def hook_url(self, channel: str) -> str:
        """Where a sender posts notifications for `channel`."""
        return f"{self.url}/hooks/{channel}"

    def notifications(self, channel: str | None = None) -> list[Notification]:
        params = {"channel": channel} if channel else {}
        response = self._http.get("/notifications", params=params)
        response.raise_for_status()
        return [Notification(n["channel"], n["received_at"], n["body"]) for n in response.json()]

    def wait_for(self, channel: str, match: Callable[[Notification], bool] = lambda n: True, *,
                 after: float = 0.0, timeout_s: float = 10.0) -> Notification | None:
        """The first notification on `channel` received after `after` that matches, or None at the timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = next((n for n in self.notifications(channel) if n.received_at >= after and match(n)), None)
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(0.1)

    def clear(self) -> None:
        self._http.delete("/notifications").raise_for_status()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AlertSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
