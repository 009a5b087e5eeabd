"""The real n8n for the tests marked `n8n`. On a machine without it, stack/n8n/install.sh runs in the
background from the end of collection (at the lowest CPU and I/O priority: a cold install takes ~7.5
min), those tests run last and wait for it; the session's end stops an install still running."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness.providers.n8n import INSTALL_SCRIPT, N8nInstall
from harness.providers.processes import MissingDependency

__all__ = ["LOG", "install_in_background", "stop_install", "waited_install"]

LOG = Path(tempfile.gettempdir()) / "harness-n8n-install.log"
_WAIT_S = 1800.0
_running: list[subprocess.Popen[bytes]] = []


def install_in_background(items: list[pytest.Item]) -> None:
    """Puts the `n8n` tests last and starts the install when one is collected and n8n is missing."""
    items.sort(key=lambda item: item.get_closest_marker("n8n") is not None)  # stable: the rest keep their order
    if _running or not any(item.get_closest_marker("n8n") for item in items):
        return
    try:
        N8nInstall.find()
        return
    except MissingDependency:
        pass
    low = ["nice", "-n", "19"] + (["ionice", "-c", "3"] if shutil.which("ionice") else [])
    with open(LOG, "wb") as out:
        _running.append(subprocess.Popen([*low, str(INSTALL_SCRIPT)], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True))


def waited_install() -> N8nInstall:
    """The install, once the background one (if any) has finished; a failed one fails the test with its log."""
    if _running:
        process = _running[0]
        started = time.monotonic()
        try:
            process.wait(_WAIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"stack/n8n/install.sh still running after {_WAIT_S:.0f} s; log {LOG}")
        if process.returncode:
            tail = " | ".join(LOG.read_text(errors="replace").strip().splitlines()[-4:])
            pytest.fail(f"stack/n8n/install.sh failed (exit {process.returncode}); log {LOG}: {tail}")
        print(f"n8n install: waited {time.monotonic() - started:.0f} s for it; log {LOG}")
    return N8nInstall.find()


def stop_install() -> None:
    """An install still running when the session ends is stopped (its trap removes the partial folder)."""
    for process in _running:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
