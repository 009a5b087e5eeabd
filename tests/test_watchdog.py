"""The reaper ends what it guards when the harness goes away, and also when it is itself told to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _guarded(tmp_path: Path) -> tuple[subprocess.Popen[str], subprocess.Popen[bytes], Path]:
    reaper = subprocess.Popen([sys.executable, "-m", "harness._watchdog"], stdin=subprocess.PIPE, text=True,
                              stdout=subprocess.PIPE, start_new_session=True)
    assert reaper.stdout is not None and reaper.stdout.readline().strip() == "ready"  # as the Supervisor waits
    service = subprocess.Popen(["sleep", "60"], start_new_session=True)
    folder = tmp_path / "run"
    folder.mkdir()
    assert reaper.stdin is not None
    reaper.stdin.write(f"+{service.pid} {int(signal.SIGTERM)}\ndir {folder}\n")
    reaper.stdin.flush()
    return reaper, service, folder


def _gone(process: subprocess.Popen[bytes], deadline_s: float = 10.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            return True
        time.sleep(0.05)
    return False


def test_pipe_closed_reaps(tmp_path: Path) -> None:
    reaper, service, folder = _guarded(tmp_path)
    assert reaper.stdin is not None
    reaper.stdin.close()
    assert _gone(service) and reaper.wait(10) == 0 and not folder.exists()


def test_sigterm_to_the_reaper_still_reaps(tmp_path: Path) -> None:
    reaper, service, folder = _guarded(tmp_path)
    os.kill(reaper.pid, signal.SIGTERM)
    assert _gone(service)
    reaper.wait(10)
    assert not folder.exists()
