"""The reaper: a detached process that ends a run's services when the harness dies, even by SIGKILL.

The harness keeps a pipe open to it and sends `+<pgid> <signal>` / `-<pgid>` / `dir <path>` /
`docker <label>` lines; when the pipe closes (normal exit or a kill), every group still registered
gets its stop signal (SIGTERM, or SIGINT for Postgres' fast shutdown), then SIGKILL, and every
container, network and volume carrying a registered label is removed (Ryuk's job, where Ryuk
cannot be pulled).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import time


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap(groups: dict[int, int], grace_s: float = 5.0) -> None:
    for pgid, signum in groups.items():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signum)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(g) for g in groups):
        time.sleep(0.1)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def reap_docker(label: str) -> None:
    """Removes containers (with their anonymous volumes), then networks and volumes, labelled `label`."""
    def ids(*args: str) -> list[str]:
        try:
            out = subprocess.run(["docker", *args, "-q", "--filter", f"label={label}"], capture_output=True,
                                 text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return []
        return out.stdout.split()

    for listing, remove in ((("ps", "-a"), ("rm", "-f", "-v")), (("network", "ls"), ("network", "rm")),
                            (("volume", "ls"), ("volume", "rm", "-f"))):
        found = ids(*listing)
        if found:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run(["docker", *remove, *found], capture_output=True, timeout=60)


class _Guarded:
    """What the harness registered so far; lines are applied as they arrive on stdin."""

    def __init__(self) -> None:
        self.groups: dict[int, int] = {}
        self.dirs: list[str] = []
        self.labels: list[str] = []
        self.partial = b""

    def feed(self, chunk: bytes) -> None:
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        for line in lines:
            self.apply(line.decode().strip())

    def apply(self, command: str) -> None:
        if command.startswith("+"):
            pgid, _, signum = command[1:].partition(" ")
            self.groups[int(pgid)] = int(signum or signal.SIGTERM)
        elif command.startswith("-"):
            self.groups.pop(int(command[1:]), None)
        elif command.startswith("dir "):
            self.dirs.append(command[4:])
        elif command.startswith("undir "):
            self.dirs[:] = [d for d in self.dirs if d != command[6:]]
        elif command.startswith("docker "):
            self.labels.append(command[7:])
        elif command.startswith("undocker "):
            self.labels[:] = [label for label in self.labels if label != command[9:]]

    def drain(self) -> None:
        """On a stop signal: whatever the harness already wrote still counts (a registration in flight)."""
        while select.select([0], [], [], 0.1)[0]:
            chunk = os.read(0, 65536)
            if not chunk:
                return
            self.feed(chunk)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the harness; the reaper waits for the pipe
    stopping: list[bool] = []
    # a reaper told to stop still ends what it guards first: the handler only flags it, so a line being
    # applied is never cut in half, and the loop below notices within 0.2 s
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(True))
    guarded = _Guarded()
    try:
        print("ready", flush=True)  # only now is a SIGTERM safe: the harness waits for this line
        while not stopping:
            if select.select([0], [], [], 0.2)[0]:
                chunk = os.read(0, 65536)
                if not chunk:
                    break
                guarded.feed(chunk)
        if stopping:
            guarded.drain()
    finally:
        reap(guarded.groups)
        for label in guarded.labels:
            reap_docker(label)
        for path in guarded.dirs:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
