"""A Redis of the tests' own and an observer rig on it (the reference observer, or a broken variant)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from harness._proc import free_port
from harness.observer import ObserverRig


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server missing: apt-get install -y redis-server (or make deps)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir",
                                str(folder)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


@pytest.fixture
def rig_factory(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., ObserverRig]]:
    rigs: list[ObserverRig] = []

    def make(*flags: str, start: bool = True, publisher_stream: str | None = None) -> ObserverRig:
        rig = ObserverRig(redis_url, tmp_path / f"rig-{len(rigs)}", flags, publisher_stream=publisher_stream)
        rigs.append(rig)
        if start:
            rig.start()
        return rig

    yield make
    for rig in rigs:
        rig.close()
