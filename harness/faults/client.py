"""A client for the Toxiproxy HTTP API that works against the real server and the harness's own.

It follows the compatibility rules of Toxiproxy 2.x: POST for updates (every 2.x accepts it),
integer attributes, explicit `stream` and `toxicity`, error JSON parsed whatever its content type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Proxy", "Toxic", "Toxiproxy", "ToxiproxyError"]


class ToxiproxyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"toxiproxy {status}: {message}")
        self.status, self.message = status, message


@dataclass
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Toxic:
        return cls(data["name"], data["type"], data["stream"], float(data["toxicity"]), dict(data["attributes"]))


@dataclass
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[Toxic] = field(default_factory=list)
    client: Toxiproxy | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], client: Toxiproxy) -> Proxy:
        return cls(data["name"], data["listen"], data["upstream"], bool(data["enabled"]),
                   [Toxic.from_json(t) for t in data.get("toxics") or []], client)

    @property
    def host(self) -> str:
        host = self.listen.rpartition(":")[0].strip("[]")
        return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _api(self) -> Toxiproxy:
        assert self.client is not None, "a Proxy needs its client"
        return self.client

    def _refresh(self, data: dict[str, Any]) -> Proxy:
        fresh = Proxy.from_json(data, self._api())
        self.listen, self.upstream, self.enabled, self.toxics = fresh.listen, fresh.upstream, fresh.enabled, \
            fresh.toxics
        return self

    def add_toxic(self, type: str, attributes: dict[str, int] | None = None, *, stream: str = "downstream",
                  toxicity: float = 1.0, name: str | None = None) -> Toxic:
        body = {"name": name or f"{type}_{stream}", "type": type, "stream": stream, "toxicity": toxicity,
                "attributes": {k: int(v) for k, v in (attributes or {}).items()}}
        return Toxic.from_json(self._api().request("POST", f"/proxies/{self.name}/toxics", body))

    def update_toxic(self, name: str, attributes: dict[str, int] | None = None,
                     toxicity: float | None = None) -> Toxic:
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = {k: int(v) for k, v in attributes.items()}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return Toxic.from_json(self._api().request("POST", f"/proxies/{self.name}/toxics/{name}", body))

    def remove_toxic(self, name: str) -> None:
        self._api().request("DELETE", f"/proxies/{self.name}/toxics/{name}")

    def list_toxics(self) -> list[Toxic]:
        return [Toxic.from_json(t) for t in self._api().request("GET", f"/proxies/{self.name}/toxics")]

    def update(self, *, upstream: str | None = None, listen: str | None = None) -> Proxy:
        body = {k: v for k, v in (("upstream", upstream), ("listen", listen)) if v is not None}
        return self._refresh(self._api().request("POST", f"/proxies/{self.name}", body))

    def disable(self) -> Proxy:
        return self._refresh(self._api().request("POST", f"/proxies/{self.name}", {"enabled": False}))

    def enable(self) -> Proxy:
        return self._refresh(self._api().request("POST", f"/proxies/{self.name}", {"enabled": True}))

    def delete(self) -> None:
        self._api().request("DELETE", f"/proxies/{self.name}")

    @contextmanager
    def toxic(self, type: str, attributes: dict[str, int] | None = None, **options: Any) -> Iterator[Toxic]:
        """The toxic for the duration of a `with` block, removed even if the block fails."""
        toxic = self.add_toxic(type, attributes, **options)
        try:
            yield toxic
        finally:
            self.remove_toxic(toxic.name)

    @contextmanager
    def down(self) -> Iterator[Proxy]:
        self.disable()
        try:
            yield self
        finally:
            self.enable()


class Toxiproxy:
    """One Toxiproxy server's API (`http://127.0.0.1:8474` by default)."""

    def __init__(self, url: str = "http://127.0.0.1:8474", timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers={"user-agent": "gateway-harness"})

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body) if body is not None else \
            self._http.request(method, path)
        if response.status_code >= 400:
            try:
                message = json.loads(response.text)["error"]
            except (ValueError, KeyError, TypeError):
                message = response.text.strip() or response.reason_phrase
            raise ToxiproxyError(response.status_code, message)
        return response.json() if response.content else None

    def version(self) -> str:
        text = self._http.get("/version").text
        match = re.search(r'"version"\s*:\s*"([^"]+)"', text)
        return match.group(1) if match else text.strip()

    def proxies(self) -> dict[str, Proxy]:
        return {name: Proxy.from_json(data, self) for name, data in self.request("GET", "/proxies").items()}

    def get(self, name: str) -> Proxy:
        return Proxy.from_json(self.request("GET", f"/proxies/{name}"), self)

    def create(self, name: str, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True) -> Proxy:
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": enabled}
        return Proxy.from_json(self.request("POST", "/proxies", body), self)

    def populate(self, proxies: list[dict[str, Any]]) -> list[Proxy]:
        data = self.request("POST", "/populate", proxies)
        return [Proxy.from_json(p, self) for p in data.get("proxies") or []]

    def reset(self) -> None:
        self.request("POST", "/reset")
