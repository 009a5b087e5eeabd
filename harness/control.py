"""Process control of a stack's services by role (`gateway`, `observer`, `router`, `bot`, ...).

Chaos and crash checks stop, continue, kill and restart a service through one interface, whether the
harness runs it as a process group (the embedded stack) or as a container (containers, compose).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Protocol

__all__ = ["ContainerControl", "ProcessControl", "ServiceControl"]


class ServiceControl(Protocol):
    """What the harness may do to the services it runs, by role."""

    @property
    def names(self) -> frozenset[str]: ...
    def pause(self, name: str) -> None: ...  # hangs, as a wedged worker does: connections open, nothing answers
    def resume(self, name: str) -> None: ...
    def kill(self, name: str) -> None: ...  # SIGKILL: no handler runs, nothing is flushed
    def start(self, name: str) -> None: ...  # after kill: the same service again, with its state


class ProcessControl:
    """Process groups by pid (the embedded stack); a killed process is not restarted here."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.pids)

    def _signal(self, name: str, sig: signal.Signals) -> None:
        os.killpg(self.pids[name], sig)

    def pause(self, name: str) -> None:
        self._signal(name, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self._signal(name, signal.SIGCONT)

    def kill(self, name: str) -> None:
        self._signal(name, signal.SIGKILL)

    def start(self, name: str) -> None:
        raise NotImplementedError(f"{name} runs as a process of the embedded stack; it cannot be restarted by role")


class ContainerControl:
    """Docker containers by id: `docker pause`, `unpause`, `kill`, `start` (a restarted container keeps its
    file system, as a restarted process keeps its disk)."""

    def __init__(self, containers: dict[str, str], timeout_s: float = 60.0) -> None:
        self.containers = dict(containers)
        self.timeout_s = timeout_s

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.containers)

    def _docker(self, *args: str) -> str:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=self.timeout_s)
        if result.returncode:
            raise RuntimeError(f"docker {' '.join(args)} failed: {result.stderr.strip()[:200]}")
        return result.stdout.strip()

    def pause(self, name: str) -> None:
        self._docker("pause", self.containers[name])

    def resume(self, name: str) -> None:
        self._docker("unpause", self.containers[name])

    def kill(self, name: str) -> None:
        self._docker("kill", "--signal", "KILL", self.containers[name])

    def start(self, name: str) -> None:
        ident = self.containers[name]
        self._docker("start", ident)
        deadline = time.monotonic() + self.timeout_s  # bounded: a container that exits at once is reported
        while self._docker("inspect", "--format", "{{.State.Status}}", ident) != "running":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} ({ident}) did not come back after docker start")
            time.sleep(0.1)
