"""A mock provider of its own for load tests: pauses and failure ratios must not leak into other tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.standins.mockllm import MockControl


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[tuple[str, MockControl]]:
    """A fresh mock provider process (URL, control); load goes to it directly, no gateway needed."""
    port_file = tmp_path / "mock.port"
    process = subprocess.Popen([sys.executable, "-m", "harness.standins.mockllm", "--port-file", str(port_file)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not port_file.exists():
        assert time.monotonic() < deadline and process.poll() is None, "mock did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port_file.read_text()}"
    control = MockControl(url)
    try:
        yield url, control
    finally:
        control.close()
        process.terminate()
        process.wait(10)
