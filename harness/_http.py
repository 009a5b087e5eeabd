"""A small, fast HTTP/1.1 server on asyncio + httptools, shared by the stand-in services.

The mock providers must outrun the gateway they feed by an order of magnitude, and the
stand-ins must be able to cut a stream mid-way; a framework would hide both, so this is thin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote

import httptools

__all__ = [
    "App",
    "Request",
    "Response",
    "StreamAborted",
    "StreamingResponse",
    "json_response",
    "new_event_loop",
    "serve",
    "serve_app_async",
]

Handler = Callable[["Request"], Awaitable["Response | StreamingResponse"]]


class StreamAborted(Exception):
    """Raised by a stream body to drop the connection without a clean end (a cut stream)."""


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass(slots=True)
class StreamingResponse:
    chunks: AsyncIterator[bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data, separators=(",", ":")).encode(), headers or {})


class App:
    """Routes requests by method and path pattern; `{name}` captures (part of) one path segment."""

    def __init__(self, not_found: Response | None = None, not_allowed: Response | None = None,
                 bad_request: Callable[[Request, str], Response] | None = None) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._exact: dict[tuple[str, str], Handler] = {}
        self._patterns: list[tuple[str, str]] = []
        self._not_found = not_found or json_response({"error": "no such route"}, 404)
        self._not_allowed = not_allowed or json_response({"error": "method not allowed"}, 405)
        # a stand-in answers a request it cannot read as its vendor would (that vendor's 400 body)
        self._bad_request = bad_request or (lambda _, message: json_response(
            {"error": "bad request", "message": message}, 400))

    def routes(self) -> list[tuple[str, str]]:
        """(method, pattern) of every registered route, in registration order."""
        return list(self._patterns)

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._patterns.append((method, pattern))
            if "{" not in pattern:
                self._exact[(method, pattern)] = handler
            else:
                regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+?)", pattern)
                self._routes.append((method, re.compile(f"^{regex}$"), handler))
            return handler

        return register

    async def dispatch(self, request: Request) -> Response | StreamingResponse:
        handler = self._exact.get((request.method, request.path))
        if handler is None:
            allowed = False
            for method, regex, candidate in self._routes:
                match = regex.match(request.path)
                if match:
                    if method != request.method:
                        allowed = True
                        continue
                    # a captured segment is the decoded text, as Go's and most routers give it
                    request.params = {k: unquote(v) for k, v in match.groupdict().items()}
                    handler = candidate
                    break
            if handler is None:
                if allowed or any(path == request.path for _, path in self._exact):
                    return self._not_allowed
                return self._not_found
        try:
            return await handler(request)
        except (ValueError, KeyError, TypeError) as exc:
            return self._bad_request(request, f"missing field {exc}" if isinstance(exc, KeyError) else str(exc))


def _head(status: int, content_type: str, headers: dict[str, str], length: int | None, keep_alive: bool) -> bytes:
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
    lines = [f"HTTP/1.1 {status} {reason}", f"content-type: {content_type}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"content-length: {length}" if length is not None else "transfer-encoding: chunked")
    if not keep_alive:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Connection(asyncio.Protocol):
    __slots__ = ("app", "body", "headers", "parser", "queue", "transport", "url", "worker")

    def __init__(self, app: App) -> None:
        self.app = app
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.queue: asyncio.Queue[tuple[Request, bool] | None] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transport is not an asyncio subclass
        self.worker = asyncio.get_running_loop().create_task(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait(None)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(_head(400, "text/plain", {}, 0, False))
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        parsed = httptools.parse_url(self.url)
        request = Request(
            method=self.parser.get_method().decode(),
            path=parsed.path.decode(),
            query_string=(parsed.query or b"").decode(),
            headers=self.headers,
            body=b"".join(self.body),
        )
        self.queue.put_nowait((request, self.parser.should_keep_alive()))

    async def _serve(self) -> None:
        while (item := await self.queue.get()) is not None:
            request, keep_alive = item
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            try:
                response = await self.app.dispatch(request)
            except Exception as exc:  # a bug in a handler must not kill the connection silently
                response = json_response({"error": "internal", "message": repr(exc)}, 500)
            if isinstance(response, Response):
                transport.write(
                    _head(response.status, response.content_type, response.headers, len(response.body), keep_alive)
                    + response.body
                )
            else:
                if not await self._stream(transport, response, keep_alive):
                    return
            if not keep_alive:
                transport.close()
                return

    async def _stream(self, transport: asyncio.Transport, response: StreamingResponse, keep_alive: bool) -> bool:
        headers = {"cache-control": "no-cache", **response.headers}
        transport.write(_head(response.status, response.content_type, headers, None, keep_alive))
        try:
            async for chunk in response.chunks:
                if transport.is_closing():
                    return False
                if chunk:
                    transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except StreamAborted:
            transport.abort()
            return False
        except Exception:  # a bug mid-stream: the client sees the cut at once instead of waiting for its timeout
            transport.abort()
            raise
        transport.write(b"0\r\n\r\n")
        return True


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed, else the default loop."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # uvloop is an optional speed-up
        return asyncio.new_event_loop()


async def serve_app_async(app: App, host: str, port: int, ready: Callable[[int], None] | None = None) -> None:
    """Serve `app` on the running loop until cancelled (for servers that own other sockets too)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(app), host, port, backlog=1024, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(bound)
    async with server:
        await server.serve_forever()


def serve(app: App, host: str, port: int, ready: Callable[[int], None] | None = None) -> None:
    """Run `app` until interrupted; `ready` is called with the bound port (useful with port 0)."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner, contextlib.suppress(KeyboardInterrupt):
        runner.run(serve_app_async(app, host, port, ready))
