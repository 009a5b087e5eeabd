"""A client for the mock's `/_control` API: set behaviour, read what reached the provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from harness.standins.mockllm.behaviour import Behaviour

__all__ = ["MockControl"]


class MockControl:
    """Controls one mock provider server. Keys are model names, `provider:<api>` or `*`."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def set(self, key: str, **fields: Any) -> Behaviour:
        behaviour = Behaviour(**fields)
        body = behaviour.model_dump(exclude_defaults=True)
        self._http.put(f"/_control/behaviour/{key}", json=body).raise_for_status()
        return behaviour

    @contextmanager
    def behaving(self, key: str, **fields: Any) -> Iterator[Behaviour]:
        """The behaviour set on `key` for the block, then reset (also when the block fails)."""
        behaviour = self.set(key, **fields)
        try:
            yield behaviour
        finally:
            self.reset(key)

    def reset(self, key: str | None = None) -> None:
        path = "/_control/behaviour" if key is None else f"/_control/behaviour/{key}"
        self._http.delete(path).raise_for_status()

    def pause(self, seconds: float) -> None:
        """Stalls every answer for `seconds` (a provider that stops responding, then recovers)."""
        self._http.post("/_control/pause", json={"seconds": seconds}).raise_for_status()

    def last_seq(self) -> int:
        return int(self._http.get("/_control/requests", params={"since": 1 << 62}).json()["last_seq"])

    def requests(self, since: int = 0, model: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"since": since}
        if model is not None:
            params["model"] = model
        response = self._http.get("/_control/requests", params=params)
        response.raise_for_status()
        return list(response.json()["data"])
