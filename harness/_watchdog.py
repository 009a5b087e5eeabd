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
import shutil
import signal
import subprocess
import sys
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


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the harness; the reaper waits for the pipe
    signal.signal(signal.SIGTERM, _stop)  # a reaper told to stop still ends what it guards first
    groups: dict[int, int] = {}
    dirs: list[str] = []
    labels: list[str] = []
    try:
        _listen(groups, dirs, labels)
    finally:
        reap(groups)
        for label in labels:
            reap_docker(label)
        for path in dirs:
            shutil.rmtree(path, ignore_errors=True)


def _listen(groups: dict[int, int], dirs: list[str], labels: list[str]) -> None:
    for line in sys.stdin:
        command = line.strip()
        if command.startswith("+"):
            pgid, _, signum = command[1:].partition(" ")
            groups[int(pgid)] = int(signum or signal.SIGTERM)
        elif command.startswith("-"):
            groups.pop(int(command[1:]), None)
        elif command.startswith("dir "):
            dirs.append(command[4:])
        elif command.startswith("undir "):
            dirs[:] = [d for d in dirs if d != command[6:]]
        elif command.startswith("docker "):
            labels.append(command[7:])
        elif command.startswith("undocker "):
            labels[:] = [label for label in labels if label != command[9:]]


if __name__ == "__main__":
    main()
