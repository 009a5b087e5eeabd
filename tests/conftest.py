"""Fixtures for the harness's own tests: in-process servers, and real embedded stacks.

`stack` here overrides the plugin's: a healthy embedded stack whose files go to a temp dir.
Broken stacks are built from the reference config with one or more things removed on purpose.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from harness import registry
from harness._http import App, serve
from harness._proc import free_port
from harness.providers.local import LocalProvider
from harness.stack import Stack
from harness.standins.mockllm import MockControl
from harness.target import REFERENCE_CONFIG, Target
from tests.n8n_install import install_in_background, stop_install


def serve_in_thread(app: App) -> str:
    """Runs an App on an ephemeral loopback port in a daemon thread; returns its base URL."""
    ready = threading.Event()
    port: list[int] = []

    def on_ready(bound: int) -> None:
        port.append(bound)
        ready.set()

    threading.Thread(target=serve, args=(app, "127.0.0.1", 0, on_ready), daemon=True).start()
    assert ready.wait(10), "server did not start"
    return f"http://127.0.0.1:{port[0]}"


@pytest.fixture
def serve_app() -> Callable[[App], str]:
    """Runs an App on an ephemeral loopback port in a daemon thread; returns its base URL."""
    return serve_in_thread


def reference_config(tmp: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the reference LiteLLM config (with its hook files) changed by `edit`."""
    folder = tmp / "litellm"
    shutil.copytree(REFERENCE_CONFIG.parent, folder, ignore=shutil.ignore_patterns("requirements.lock"))
    config = yaml.safe_load(REFERENCE_CONFIG.read_text())
    edit(config)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def stack_with_hook(tmp: Path, hook: str) -> Iterator[Stack]:
    """An embedded stack whose gateway also runs the callback `tests/fixtures/<hook>.py` (its `handler`)."""

    def edit(config: dict[str, Any]) -> None:
        settings = config["litellm_settings"]
        settings["callbacks"] = [*settings["callbacks"], f"{hook}.handler"]

    config = reference_config(tmp, edit)
    shutil.copy(Path(__file__).parent / "fixtures" / f"{hook}.py", config.parent)
    yield from start_stack(tmp, Target.embedded().model_copy(update={"litellm_config": config}))


def start_stack(tmp: Path, target: Target) -> Iterator[Stack]:
    provider = LocalProvider(target, tmp / "run", postgres=False)
    try:
        yield provider.start()
    finally:
        provider.stop()


@pytest.fixture
def mock(stack: Stack) -> Iterator[MockControl]:
    """The healthy stack's provider control, reset after the test so faults never leak into the next."""
    control = stack.mock()
    assert control is not None
    yield control
    control.reset()
    control.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The healthy embedded reference stack (real LiteLLM), shared by the tests that need one."""
    yield from start_stack(tmp_path_factory.mktemp("healthy"), Target.embedded())


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of the tests' own (a real redis-server on loopback), for the session."""
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
def clean_registry() -> Iterator[dict[str, list[registry.Check]]]:
    """The registry as it is, restored after a test that plants checks in it."""
    registry.checks_for("GW-1")  # loads every check module first
    saved = {ident: list(checks) for ident, checks in registry.REGISTRY.items()}
    yield registry.REGISTRY
    registry.REGISTRY.clear()
    registry.REGISTRY.update(saved)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    install_in_background(items)  # the `n8n` tests go last; a missing n8n installs meanwhile


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_install()
