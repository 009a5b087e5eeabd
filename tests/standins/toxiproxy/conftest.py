"""A Toxiproxy server to test (the real one when on PATH or at $TOXIPROXY_URL, else ours) and TCP peers."""

from __future__ import annotations

import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from harness._proc import free_port, wait_until
from harness.faults import Toxiproxy


@pytest.fixture(scope="session")
def toxiproxy_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("TOXIPROXY_URL"):
        yield os.environ["TOXIPROXY_URL"]
        return
    real = shutil.which("toxiproxy-server")
    port_file = tmp_path_factory.mktemp("toxiproxy") / "port"
    if real:
        port = free_port()
        argv = [real, "-host", "127.0.0.1", "-port", str(port)]
    else:
        argv = [sys.executable, "-m", "harness.standins.toxiproxy", "--port", "0", "--port-file", str(port_file)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if real:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: socket.create_connection(("127.0.0.1", port), 0.2).close() is None, 10)
        else:
            wait_until(port_file.exists, 10)
            url = f"http://127.0.0.1:{port_file.read_text()}"
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def toxiproxy(toxiproxy_url: str) -> Iterator[Toxiproxy]:
    client = Toxiproxy(toxiproxy_url)
    for proxy in client.proxies().values():
        proxy.delete()
    yield client
    for proxy in client.proxies().values():
        proxy.delete()
    client.close()


class Peer:
    """A TCP upstream: echoes, and records what it received and when (monotonic)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, bytes]] = []
        self.closed_at: list[float] = []
        self.send_on_connect: bytes = b""
        self.close_after_greeting = False
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if peer.send_on_connect:
                    sock.sendall(peer.send_on_connect)
                    if peer.close_after_greeting:
                        sock.close()
                        peer.closed_at.append(time.monotonic())
                        return
                try:
                    while data := sock.recv(65536):
                        peer.received.append((time.monotonic(), data))
                        sock.sendall(data)
                except OSError:
                    pass
                peer.closed_at.append(time.monotonic())

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def data(self) -> bytes:
        return b"".join(d for _, d in self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer()
    yield server
    server.close()


def connect(address: str, timeout: float = 5.0) -> socket.socket:
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data

