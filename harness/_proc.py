"""Child services of a run: start each in its own process group, wait for readiness, stop for sure.

Readiness is polled with a deadline (never a fixed sleep); every group is registered with the
reaper (`_watchdog`), so nothing a run started outlives it.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["Service", "StartupError", "Supervisor", "free_port", "wait_until"]


class StartupError(RuntimeError):
    """A service did not become ready; the message names it, says why and where its log is."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, for a service that must be told its port before it binds.

    Taken below the kernel's ephemeral range: a port the kernel hands out (bind to 0) is free again once
    the probe closes, and any outgoing connection may take it as its local port before the service binds
    (seen: the router's start failed with EADDRINUSE in make test). Ports below the range are given only
    to listeners, and this process hands each out once."""
    low, _ = _ephemeral_range()
    floor = max(1024, low - 12_000)
    for _ in range(200):
        port = random.randrange(floor, low)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as sock:  # everything below the range taken: the kernel's choice, as before
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(probe: Callable[[], bool], deadline_s: float, interval_s: float = 0.05,
               alive: Callable[[], bool] | None = None) -> float:
    """Polls `probe` until it returns True; returns the seconds it took, raises TimeoutError."""
    started = time.monotonic()
    while True:
        try:
            if probe():
                return time.monotonic() - started
        except OSError:
            pass
        if alive is not None and not alive():
            raise ChildProcessError("process exited")
        if time.monotonic() - started > deadline_s:
            raise TimeoutError(f"not ready after {deadline_s:.0f} s")
        time.sleep(interval_s)


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: signal.Signals = signal.SIGTERM
    ready_s: float | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""


class Supervisor:
    """Owns the run's child processes and the reaper that guards them."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.services: dict[str, Service] = {}
        self._stopped: dict[str, int] = {}
        self._reaper = subprocess.Popen([sys.executable, "-m", "harness._watchdog"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, start_new_session=True, text=True)
        assert self._reaper.stdin is not None and self._reaper.stdout is not None
        self._pipe: IO[str] = self._reaper.stdin
        # nothing starts until the reaper has its signal handlers: a reaper killed while still starting
        # would otherwise guard nothing
        ready, _, _ = select.select([self._reaper.stdout], [], [], 30)
        if not ready or self._reaper.stdout.readline().strip() != "ready":
            self._reaper.kill()
            raise StartupError("the reaper (python -m harness._watchdog) did not start within 30 s")

    def _tell(self, line: str) -> None:
        self._pipe.write(line + "\n")
        self._pipe.flush()

    def guard_dir(self, path: Path) -> None:
        self._tell(f"dir {path}")

    def guard_docker(self, label: str) -> None:
        """Containers, networks and volumes labelled `label` are removed if the harness dies."""
        self._tell(f"docker {label}")

    def release_docker(self, label: str) -> None:
        self._tell(f"undocker {label}")

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
              user: str | None = None, stop_signal: signal.Signals = signal.SIGTERM) -> Service:
        log = self.log_dir / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
                                       user=user)
        self._tell(f"+{process.pid} {int(stop_signal)}")
        service = Service(name, process, log, stop_signal)
        self.services[name] = service
        self._write_pids()
        return service

    def _write_pids(self) -> None:
        """`pids.json` beside the logs: what an operator (or a test) needs to find leftovers."""
        path = self.log_dir / "pids.json"
        path.write_text(json.dumps({name: s.pid for name, s in self.services.items()} | self._stopped))

    def ready(self, service: Service, probe: Callable[[], bool], deadline_s: float) -> float:
        try:
            service.ready_s = wait_until(probe, deadline_s, alive=service.alive)
        except ChildProcessError:
            raise StartupError(f"{service.name} exited with code {service.process.returncode} during start-up; "
                               f"log {service.log}: {service.tail()}") from None
        except TimeoutError:
            raise StartupError(f"{service.name} not ready after {deadline_s:.0f} s; log {service.log}: "
                               f"{service.tail()}") from None
        service.ready_s = time.monotonic() - service.started_at
        return service.ready_s

    def stop(self, name: str, grace_s: float = 5.0) -> None:
        service = self.services.pop(name, None)
        if service is None:
            return
        for sig, wait in ((service.stop_signal, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(service.pid, sig)
            except ProcessLookupError:
                break
            try:
                service.process.wait(wait)
                # the leader is gone; its children may not be (postgres backends, uvicorn workers)
                os.killpg(service.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
            break
        self._tell(f"-{service.pid}")
        self._stopped[name] = service.pid

    def close(self) -> None:
        for name in reversed(list(self.services)):
            self.stop(name)
        self._pipe.close()
        self._reaper.wait(30)
