"""What the Docker providers' tests need: a daemon, the local images and, for compose, Compose v2.
Under CI (`make test` prepares all three) a missing one fails the test; elsewhere it skips."""

from __future__ import annotations

import os
import subprocess

import pytest

from harness.images import IMAGES, present


def docker_unready(compose: bool = False) -> str | None:
    """Why the Docker providers cannot run here, or None when they can."""
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "no docker client (apt-get install docker.io)"
    if info.returncode:
        return "the Docker daemon is not running (start dockerd)"
    missing = [spec.tag for name, spec in IMAGES.items() if name != "base" and present(spec.tag) is None]
    if missing:
        return f"images missing: {missing} (run `harness images build`)"
    if compose and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode:
        return "Docker Compose v2 missing (run `make compose-ready`)"
    return None


def _require(reason: str | None) -> None:
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI runs the Docker providers: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def docker_daemon() -> None:
    _require(docker_unready())


@pytest.fixture(scope="module")
def docker_compose() -> None:
    _require(docker_unready(compose=True))
