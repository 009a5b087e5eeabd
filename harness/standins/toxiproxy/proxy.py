"""A TCP proxy with two one-way links per connection, each running a live chain of toxics.

Toxics added or removed apply to connections that are already open, as in Toxiproxy; a close
from either peer tears the whole connection down (no half-close), and a chunk is released by a
latency toxic `latency` after it was read, so latency shifts a stream without slowing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time

from harness.standins.toxiproxy.toxics import Chunk, Close, LinkState, Reset, Toxic, run_toxic

__all__ = ["BindError", "Proxy", "resolve_listen"]

_CHUNK = 32 * 1024
_BUFFER = 1024


class BindError(Exception):
    """A listen address that cannot be resolved or bound; the text follows Go's net errors."""


def resolve_listen(listen: str) -> tuple[str | None, int, bool]:
    """(host to bind, port, wildcard?) for a Toxiproxy listen string such as `127.0.0.1:0` or `:8666`."""
    host, sep, port = listen.rpartition(":")
    if not sep:
        raise BindError(f"listen tcp: address {listen}: missing port in address")
    host = host.strip("[]")
    try:
        number = int(port or "0")
    except ValueError:
        raise BindError(f"listen tcp: lookup port {port}: unknown port") from None
    if host in ("", "0.0.0.0", "::"):
        return None, number, True
    if host == "localhost":
        host = "127.0.0.1"
    return host, number, False


class _Link:
    def __init__(self, conn: _Connection, direction: str, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.conn, self.direction, self.reader, self.writer = conn, direction, reader, writer
        self.queue: asyncio.Queue[Chunk] = asyncio.Queue(_BUFFER)
        self.state = LinkState()
        self.timers: dict[int, float] = {}

    def chain(self) -> list[Toxic]:
        return self.conn.proxy.toxics[self.direction]

    async def pump(self) -> None:
        try:
            while data := await self.reader.read(_CHUNK):
                await self.queue.put(Chunk(data, time.monotonic()))
        except (ConnectionError, OSError):
            pass
        await self.queue.put(Chunk(None, time.monotonic()))

    def _timeout_deadline(self) -> float | None:
        """A timeout toxic closes the link after `timeout` ms with no data; its clock restarts per chunk."""
        now = time.monotonic()
        deadlines = []
        rng = self.conn.proxy.rng
        for toxic in self.chain():
            if toxic.type == "timeout" and toxic.attributes["timeout"] > 0 and self.state.active(toxic, rng):
                key = (id(toxic) << 8) ^ toxic.generation
                start = self.timers.setdefault(key, now)
                deadlines.append(start + toxic.attributes["timeout"] / 1000.0)
        return min(deadlines) if deadlines else None

    def _rearm_timeouts(self) -> None:
        now = time.monotonic()
        for key in self.timers:
            self.timers[key] = now

    async def deliver(self) -> None:
        proxy = self.conn.proxy
        try:
            while True:
                deadline = self._timeout_deadline()
                changed = proxy.changed[self.direction]
                get = asyncio.ensure_future(self.queue.get())
                waiters: set[asyncio.Future[object]] = {get, asyncio.ensure_future(changed.wait())}
                timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                done, pending = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for waiter in pending:
                    waiter.cancel()
                if get not in done:
                    if get.done() and not get.cancelled():
                        self.queue.put_nowait(get.result())
                    if not done:
                        raise Close  # a timeout toxic's clock ran out
                    continue
                chunk = get.result()
                if any(t.type == "timeout" for t in self.chain()):
                    self._rearm_timeouts()
                await self._through(list(self.chain()), 0, chunk)
                if chunk.data is None:
                    raise Close
        except Reset:
            self.conn.close(reset=True)
        except Close:
            self.conn.close()
        except (ConnectionError, OSError):
            self.conn.close()

    async def _through(self, chain: list[Toxic], index: int, chunk: Chunk) -> None:
        rng = self.conn.proxy.rng
        while index < len(chain) and (chain[index].removed.is_set() or not self.state.active(chain[index], rng)):
            index += 1
        if index == len(chain):
            if chunk.data:
                self.writer.write(chunk.data)
                await self.writer.drain()
            return
        async for out in run_toxic(chain[index], chunk, self.state, rng):
            await self._through(chain, index + 1, out)


class _Connection:
    def __init__(self, proxy: Proxy, client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.proxy = proxy
        self.client_writer, self.upstream_writer = client[1], upstream[1]
        self.links = [_Link(self, "upstream", client[0], upstream[1]),
                      _Link(self, "downstream", upstream[0], client[1])]
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False
        # Toxiproxy sets SO_LINGER=0 on both sockets when a link starts with reset_peer in its chain
        self.linger0 = any(t.type == "reset_peer" for link in self.links for t in link.chain())
        if self.linger0:
            self._set_linger0()

    def start(self) -> None:
        for link in self.links:
            self.tasks += [asyncio.create_task(link.pump()), asyncio.create_task(link.deliver())]

    def _set_linger0(self) -> None:
        for writer in (self.client_writer, self.upstream_writer):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self, reset: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxy.connections.discard(self)
        if reset and not self.linger0:
            reset = False  # a reset_peer added to a live connection closes it with a FIN, as in Toxiproxy
        for writer in (self.client_writer, self.upstream_writer):
            if reset:
                writer.transport.abort()
            else:
                writer.close()
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()


class Proxy:
    """One named proxy: listen address, upstream, enabled state, toxics by direction, connections."""

    def __init__(self, name: str, listen: str, upstream: str, enabled: bool, rng: random.Random) -> None:
        self.name, self.listen, self.upstream, self.enabled = name, listen, upstream, False
        self.toxics: dict[str, list[Toxic]] = {"upstream": [], "downstream": []}
        self.changed = {"upstream": asyncio.Event(), "downstream": asyncio.Event()}
        self.connections: set[_Connection] = set()
        self.rng = rng
        self._server: asyncio.base_events.Server | None = None
        self._want_enabled = enabled

    def to_json(self) -> dict[str, object]:
        toxics = [t.to_json() for t in self.toxics["upstream"] + self.toxics["downstream"]]
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream, "enabled": self.enabled,
                "Logger": {}, "toxics": toxics}

    def notify(self, direction: str) -> None:
        event = self.changed[direction]
        event.set()
        self.changed[direction] = asyncio.Event()

    async def start(self) -> None:
        if self.enabled:
            return
        host, port, wildcard = resolve_listen(self.listen)
        try:
            if wildcard:
                self._server = await asyncio.start_server(self._accept, host=None, port=port, reuse_address=True)
            else:
                self._server = await asyncio.start_server(self._accept, host=host, port=port, reuse_address=True)
        except socket.gaierror as exc:
            raise BindError(f"listen tcp: lookup {host}: {exc.strerror}") from None
        except OSError as exc:
            reason = "address already in use" if exc.errno == 98 else (exc.strerror or str(exc)).lower()
            raise BindError(f"listen tcp {host or ''}:{port}: bind: {reason}") from None
        bound = self._server.sockets[0].getsockname()
        families = {s.family for s in self._server.sockets}
        if wildcard:
            self.listen = f"[::]:{bound[1]}" if socket.AF_INET6 in families else f"0.0.0.0:{bound[1]}"
        else:
            self.listen = f"[{bound[0]}]:{bound[1]}" if ":" in bound[0] else f"{bound[0]}:{bound[1]}"
        self.enabled = True

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.close()
        self.enabled = False

    def close_connections(self) -> None:
        for conn in list(self.connections):
            conn.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port = self.upstream.rpartition(":")
        try:
            upstream = await asyncio.open_connection(host.strip("[]") or "127.0.0.1", int(port))
        except (OSError, ValueError):
            writer.close()  # the client saw a connect, then EOF: as Toxiproxy does with a dead upstream
            return
        conn = _Connection(self, (reader, writer), upstream)
        self.connections.add(conn)
        conn.start()
