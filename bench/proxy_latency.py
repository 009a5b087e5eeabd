"""What the fault proxy adds with no toxic: round-trip P50/P99 through it next to a direct connection.

Echo round trips of a small message over one kept-alive TCP connection; prints microseconds.
Runs against the harness's Toxiproxy-compatible server (or the real one, if toxiproxy-server is on PATH).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness._proc import free_port, wait_until
from harness.faults import Toxiproxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := sock.recv(65536):
            sock.sendall(data)


def _round_trips(port: int, count: int, payload: bytes) -> list[float]:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(payload)
            received = 0
            while received < len(payload):
                received += len(sock.recv(65536))
            samples.append((time.perf_counter() - started) * 1e6)
    return samples


def _row(name: str, samples: list[float]) -> str:
    cut = statistics.quantiles(samples, n=100)
    return f"{name:28s} P50 {cut[49]:8.1f} µs   P99 {cut[98]:8.1f} µs   ({len(samples)} round trips)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    echo_port = echo.server_address[1]
    with tempfile.TemporaryDirectory() as tmp:
        real = shutil.which("toxiproxy-server")
        port_file = Path(tmp) / "port"
        api_port = free_port()
        argv = [real, "-port", str(api_port)] if real else \
            [sys.executable, "-m", "harness.standins.toxiproxy", "--port", "0", "--port-file", str(port_file)]
        server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not real:
                wait_until(port_file.exists, 10)
                api_port = int(port_file.read_text())
            else:
                wait_until(lambda: socket.create_connection(("127.0.0.1", api_port), 0.2).close() is None, 10)
            proxy = Toxiproxy(f"http://127.0.0.1:{api_port}").create("bench", f"127.0.0.1:{echo_port}")
            payload = b"x" * 512
            _round_trips(echo_port, 200, payload)
            _round_trips(proxy.port, 200, payload)
            direct = _round_trips(echo_port, args.count, payload)
            proxied = _round_trips(proxy.port, args.count, payload)
        finally:
            server.terminate()
            server.wait(10)
    print(f"fault proxy: {'real toxiproxy-server' if real else 'harness Toxiproxy-compatible server'}, no toxic")
    print(_row("direct connection", direct))
    print(_row("through the fault proxy", proxied))
    added = statistics.median(proxied) - statistics.median(direct)
    print(f"added by the proxy: P50 {added:.1f} µs per round trip (both directions)")


if __name__ == "__main__":
    main()
