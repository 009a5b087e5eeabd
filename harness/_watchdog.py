"""The reaper: a detached process that ends a run's services when the harness dies, even by SIGKILL.

The harness keeps a pipe open to it and sends `+<pgid> <signal>` / `-<pgid>` / `dir <path>` lines;
when the pipe closes (normal exit or a kill), every group still registered gets its stop signal
(SIGTERM, or SIGINT for Postgres' fast shutdown), then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
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


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the harness; the reaper waits for the pipe
    signal.signal(signal.SIGTERM, _stop)  # a reaper told to stop still ends what it guards first
    groups: dict[int, int] = {}
    dirs: list[str] = []
    try:
        _listen(groups, dirs)
    finally:
        reap(groups)
        for path in dirs:
            shutil.rmtree(path, ignore_errors=True)


def _listen(groups: dict[int, int], dirs: list[str]) -> None:
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


if __name__ == "__main__":
    main()
