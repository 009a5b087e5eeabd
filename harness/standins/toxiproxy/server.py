"""A Toxiproxy-compatible server: the 2.x HTTP API, byte for byte where clients can tell.

Used where the real `toxiproxy-server` cannot be installed; the same client code drives both.
Routes, status codes, error texts, JSON shapes and Go's lenient decoding (case-insensitive keys,
null keeps the default, floats rejected for integer attributes) follow Toxiproxy 2.12.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from harness._http import App, Request, Response
from harness.standins.toxiproxy.proxy import BindError, Proxy, resolve_listen
from harness.standins.toxiproxy.toxics import ATTRIBUTES, Toxic

__all__ = ["VERSION", "ToxiproxyServer", "create_app"]

VERSION = "2.12.0"
_TEXT = "text/plain; charset=utf-8"


class ApiError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _bad(detail: str) -> ApiError:
    return ApiError(f"bad request body: {detail}", 400)


def _error(exc: ApiError, extra: dict[str, Any] | None = None) -> Response:
    body = {"error": exc.message, "status": exc.status, **(extra or {})}
    return Response(exc.status, json.dumps(body, separators=(",", ":")).encode() + b"\n",
                    {"x-content-type-options": "nosniff"}, _TEXT)


def _ok(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data, separators=(",", ":")).encode())


def _body(request: Request, kind: type) -> Any:
    if not request.body.strip():
        raise _bad("EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(request.body.decode("utf-8").lstrip())
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(str(exc)) from None
    if not isinstance(value, kind):
        raise _bad(f"json: cannot unmarshal {type(value).__name__} into Go value of type {kind.__name__}")
    return value


def _get(obj: dict[str, Any], key: str) -> Any:
    """Go matches JSON keys to struct fields case-insensitively, exact match first."""
    if key in obj:
        return obj[key]
    for name, value in obj.items():
        if name.lower() == key:
            return value
    return None


def _typed(value: Any, kind: type, field: str, default: Any) -> Any:
    if value is None:
        return default
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise _bad(f"json: cannot unmarshal {type(value).__name__} into Go struct field .{field} of type int64")
    if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _bad(f"json: cannot unmarshal {type(value).__name__} into Go struct field .{field} of type float32")
    if kind in (str, bool) and not isinstance(value, kind):
        raise _bad(f"json: cannot unmarshal {type(value).__name__} into Go struct field .{field} of type "
                   f"{kind.__name__}")
    return value


def _attributes(raw: Any, kind: str, current: dict[str, int]) -> dict[str, int]:
    if raw is None:
        return dict(current)
    if not isinstance(raw, dict):
        raise _bad("json: cannot unmarshal attributes")
    out = dict(current)
    for name in ATTRIBUTES[kind]:
        value = _get(raw, name)
        if value is not None:
            out[name] = _typed(value, int, f"attributes.{name}", 0)
    if kind == "bandwidth" and out["rate"] < 0:
        raise _bad("rate must not be negative (Toxiproxy would crash on it)")
    return out


class ToxiproxyServer:
    """The proxy registry and its API semantics (create, update, populate, reset ...)."""

    def __init__(self, seed: int | None = None) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.rng = random.Random(seed)

    def _proxy(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ApiError("proxy not found", 404)
        return proxy

    @staticmethod
    def _parse_proxy(item: dict[str, Any], where: str = "") -> tuple[str, str, str, bool]:
        name = _typed(_get(item, "name"), str, "name", "")
        listen = _typed(_get(item, "listen"), str, "listen", "")
        upstream = _typed(_get(item, "upstream"), str, "upstream", "")
        enabled = _typed(_get(item, "enabled"), bool, "enabled", True)
        if not name:
            raise ApiError(f"missing required field: name{where}", 400)
        if not upstream:
            raise ApiError(f"missing required field: upstream{where}", 400)
        return name, listen, upstream, enabled

    async def _new_proxy(self, name: str, listen: str, upstream: str, enabled: bool) -> Proxy:
        proxy = Proxy(name, listen, upstream, enabled, self.rng)
        if enabled:
            try:
                await proxy.start()
            except BindError as exc:
                raise ApiError(str(exc), 500) from None
        self.proxies[name] = proxy
        return proxy

    async def create(self, request: Request) -> Response:
        name, listen, upstream, enabled = self._parse_proxy(_body(request, dict))
        if name in self.proxies:
            raise ApiError("proxy already exists", 409)
        return _ok((await self._new_proxy(name, listen, upstream, enabled)).to_json(), 201)

    @staticmethod
    def _differs(proxy: Proxy, listen: str, upstream: str) -> bool:
        """Go's Differs: another upstream, or a listen that resolves elsewhere (`:0` always differs)."""
        if upstream != proxy.upstream:
            return True
        try:
            host, port, wildcard = resolve_listen(listen)
            current_host, current_port, current_wild = resolve_listen(proxy.listen)
        except BindError:
            return True
        return (host, port, wildcard) != (current_host, current_port, current_wild) or port == 0

    async def populate(self, request: Request) -> Response:
        try:
            items = _body(request, list)
            parsed = []
            for index, item in enumerate(items, start=1):
                if not isinstance(item, dict):
                    raise _bad("json: cannot unmarshal into Go value of type toxiproxy.Proxy")
                parsed.append(self._parse_proxy(item, f" at proxy {index}"))
        except ApiError as exc:
            return _error(exc, {"proxies": None})
        done: list[dict[str, Any]] = []
        for name, listen, upstream, enabled in parsed:
            existing = self.proxies.get(name)
            try:
                if existing is not None and not self._differs(existing, listen, upstream):
                    done.append(existing.to_json())
                    continue
                if existing is not None:
                    await existing.stop()
                    del self.proxies[name]
                done.append((await self._new_proxy(name, listen, upstream, enabled)).to_json())
            except ApiError as exc:
                return _error(exc, {"proxies": done})
        return _ok({"proxies": done or None}, 201)

    async def update(self, request: Request) -> Response:
        proxy = self._proxy(request.params["proxy"])
        body = _body(request, dict)
        listen = _typed(_get(body, "listen"), str, "listen", proxy.listen)
        upstream = _typed(_get(body, "upstream"), str, "upstream", proxy.upstream)
        enabled = _typed(_get(body, "enabled"), bool, "enabled", proxy.enabled)
        try:
            if self._differs(proxy, listen, upstream):
                await proxy.stop()
                proxy.listen, proxy.upstream = listen, upstream
            if enabled and not proxy.enabled:
                await proxy.start()
            elif not enabled and proxy.enabled:
                await proxy.stop()
        except BindError as exc:
            raise ApiError(str(exc), 500) from None
        return _ok(proxy.to_json())

    async def delete(self, request: Request) -> Response:
        proxy = self._proxy(request.params["proxy"])
        await proxy.stop()
        del self.proxies[proxy.name]
        return Response(204, b"", content_type=_TEXT)

    async def reset(self, request: Request) -> Response:
        for proxy in self.proxies.values():
            try:
                await proxy.start()
            except BindError as exc:
                raise ApiError(str(exc), 500) from None
            for direction in ("upstream", "downstream"):
                self._remove_all(proxy, direction)
        return Response(204, b"", content_type=_TEXT)

    @staticmethod
    def _remove(proxy: Proxy, toxic: Toxic) -> None:
        proxy.toxics[toxic.direction].remove(toxic)
        toxic.removed.set()
        proxy.notify(toxic.direction)
        if toxic.type == "timeout":
            proxy.close_connections()  # the dropped bytes would corrupt the stream (Toxiproxy #168)

    def _remove_all(self, proxy: Proxy, direction: str) -> None:
        for toxic in list(proxy.toxics[direction]):
            self._remove(proxy, toxic)

    @staticmethod
    def _find(proxy: Proxy, name: str) -> Toxic:
        for toxic in proxy.toxics["upstream"] + proxy.toxics["downstream"]:
            if toxic.name == name:
                return toxic
        raise ApiError("toxic not found", 404)

    async def add_toxic(self, request: Request) -> Response:
        proxy = self._proxy(request.params["proxy"])
        body = _body(request, dict)
        stream = _typed(_get(body, "stream"), str, "stream", "downstream")
        if stream.lower() not in ("upstream", "downstream"):
            raise ApiError("stream was invalid, can be either upstream or downstream", 400)
        kind = _typed(_get(body, "type"), str, "type", "")
        name = _typed(_get(body, "name"), str, "name", "") or f"{kind}_{stream}"
        toxicity = float(_typed(_get(body, "toxicity"), float, "toxicity", 1.0))
        if kind not in ATTRIBUTES:
            raise ApiError("invalid toxic type", 400)
        if any(t.name == name for t in proxy.toxics["upstream"] + proxy.toxics["downstream"]):
            raise ApiError("toxic already exists", 409)
        attributes = _attributes(_get(body, "attributes"), kind, dict.fromkeys(ATTRIBUTES[kind], 0))
        toxic = Toxic(name=name, type=kind, stream=stream, toxicity=toxicity, attributes=attributes)
        proxy.toxics[toxic.direction].append(toxic)
        proxy.notify(toxic.direction)
        return _ok(toxic.to_json())

    async def update_toxic(self, request: Request) -> Response:
        proxy = self._proxy(request.params["proxy"])
        toxic = self._find(proxy, request.params["toxic"])
        body = _body(request, dict)
        toxic.attributes = _attributes(_get(body, "attributes"), toxic.type, toxic.attributes)
        toxic.toxicity = float(_typed(_get(body, "toxicity"), float, "toxicity", toxic.toxicity))
        toxic.generation += 1
        proxy.notify(toxic.direction)
        return _ok(toxic.to_json())

    async def delete_toxic(self, request: Request) -> Response:
        proxy = self._proxy(request.params["proxy"])
        self._remove(proxy, self._find(proxy, request.params["toxic"]))
        return Response(204, b"", content_type=_TEXT)

    async def close(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()


def create_app(server: ToxiproxyServer, version: str = VERSION) -> App:
    app = App(not_found=Response(404, b"404 page not found\n", content_type=_TEXT),
              not_allowed=Response(405, b"", content_type=_TEXT))

    def route(methods: tuple[str, ...], path: str,
              handler: Callable[[Request], Awaitable[Response]]) -> None:
        async def wrapped(request: Request) -> Response:
            request_id = secrets.token_hex(10)
            if request.headers.get("user-agent", "").startswith("Mozilla/"):
                response = Response(403, b"User agent not allowed\n", content_type=_TEXT)
            else:
                try:
                    response = await handler(request)
                except ApiError as exc:
                    response = _error(exc)
            response.headers["x-toxiproxy-request-id"] = request_id
            return response

        for method in methods:
            app.route(method, path)(wrapped)

    async def version_handler(request: Request) -> Response:
        return Response(200, f'{{"version": "{version}"}}\n'.encode(), content_type="application/json;charset=utf-8")

    async def index(request: Request) -> Response:
        return _ok({name: server.proxies[name].to_json() for name in sorted(server.proxies)})

    async def get_proxy(request: Request) -> Response:
        return _ok(server._proxy(request.params["proxy"]).to_json())

    async def list_toxics(request: Request) -> Response:
        proxy = server._proxy(request.params["proxy"])
        return _ok([t.to_json() for t in proxy.toxics["upstream"] + proxy.toxics["downstream"]])

    async def get_toxic(request: Request) -> Response:
        proxy = server._proxy(request.params["proxy"])
        return _ok(server._find(proxy, request.params["toxic"]).to_json())

    route(("GET",), "/version", version_handler)
    route(("POST",), "/reset", server.reset)
    route(("GET",), "/proxies", index)
    route(("POST",), "/proxies", server.create)
    route(("POST",), "/populate", server.populate)
    route(("GET",), "/proxies/{proxy}", get_proxy)
    route(("POST", "PATCH"), "/proxies/{proxy}", server.update)
    route(("DELETE",), "/proxies/{proxy}", server.delete)
    route(("GET",), "/proxies/{proxy}/toxics", list_toxics)
    route(("POST",), "/proxies/{proxy}/toxics", server.add_toxic)
    route(("GET",), "/proxies/{proxy}/toxics/{toxic}", get_toxic)
    route(("POST", "PATCH"), "/proxies/{proxy}/toxics/{toxic}", server.update_toxic)
    route(("DELETE",), "/proxies/{proxy}/toxics/{toxic}", server.delete_toxic)
    return app
