"""The Cloud Storage stand-in as a process, for its client and spec tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from harness.target import REPO


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port_file = tmp_path_factory.mktemp("gcs") / "port"
    server = subprocess.Popen([sys.executable, "-m", "harness.standins.gcs", "--port-file", str(port_file)], cwd=REPO,
                              stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert server.poll() is None and time.monotonic() < deadline, "the stand-in did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        server.terminate()
        server.wait(10)
