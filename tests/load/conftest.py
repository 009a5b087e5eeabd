"""A mock provider of its own for load tests: pauses and failure ratios must not leak into other tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness._proc import Supervisor
from harness.standins.mockllm import MockControl


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[tuple[str, MockControl]]:
    """A fresh mock provider process (URL, control); load goes to it directly, no gateway needed. Started by
    a Supervisor: an interrupt during start-up (or a killed pytest) leaves no process behind (its reaper)."""
    port_file = tmp_path / "mock.port"
    supervisor = Supervisor(tmp_path)
    try:
        mock = supervisor.start("mockllm", [sys.executable, "-m", "harness.standins.mockllm", "--port-file",
                                            str(port_file)])
        supervisor.ready(mock, port_file.exists, 15)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        control = MockControl(url)
        try:
            yield url, control
        finally:
            control.close()
    finally:
        supervisor.close()
