"""The embedded provider leaves nothing behind: after a stop, a failed start, or a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness._proc import StartupError
from harness.providers.local import LocalProvider
from harness.providers.processes import MissingDependency, binary
from harness.target import REPO, Target
from tests.conftest import reference_config


def _group_members(pgids: set[int]) -> set[int]:
    """Every live process whose process group is one of `pgids` (postgres backends, workers ...)."""
    members = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) in pgids:
                    members.add(int(entry.name))
            except ProcessLookupError:
                continue
    return members


def _descendants(roots: set[int]) -> set[int]:
    """`roots` and every live process below them (Postgres backends start sessions of their own)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
    found = set(roots) & set(parents)
    while True:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        if not more:
            return found
        found |= more


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()
            and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()}


def _wait_gone(pids: set[int], deadline_s: float) -> set[int]:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        alive = _group_members(pids)
        if not alive:
            return set()
        time.sleep(0.2)
    return _group_members(pids)


def test_stop_ends_every_process_including_postgres_backends(tmp_path: Path) -> None:
    provider = LocalProvider(Target.embedded(), tmp_path)
    stack = provider.start()
    assert set(stack.pids) == {"mockllm", "langfuse", "toxiproxy", "redis", "litellm", "postgres", "alerts",
                               "telegram", "router", "bot"}
    processes = _descendants(set(stack.pids.values()))
    assert len(processes) > len(stack.pids)  # postgres' backends
    provider.stop()
    assert _alive(processes) == set()
    assert not provider.tmp.exists()


def test_a_failed_start_names_the_service_and_leaves_nothing(tmp_path: Path) -> None:
    def break_it(config: dict) -> None:
        config["general_settings"]["custom_auth"] = "no_such_module.no_such_function"

    target = Target.embedded().model_copy(update={"litellm_config": reference_config(tmp_path, break_it)})
    provider = LocalProvider(target, tmp_path / "run", postgres=False)
    with pytest.raises(StartupError, match=r"litellm exited with code \d+ during start-up; log .*litellm.log"):
        provider.start()
    pids = json.loads((tmp_path / "run" / "logs" / "pids.json").read_text())
    assert _wait_gone(set(pids.values()), 10) == set()


def test_a_missing_binary_says_how_to_install_it() -> None:
    with pytest.raises(MissingDependency, match=r"not-a-server not found: run `sudo apt-get install -y pkg`"):
        binary("not-a-server", "pkg")


def test_sigkill_of_harness_up_is_cleaned_up_by_the_reaper(tmp_path: Path) -> None:
    """`harness up`, an acceptance run through the external provider, then `kill -9` of `up`."""
    env = {**os.environ, "HARNESS_STATE_DIR": str(tmp_path / "state")}
    up = subprocess.Popen([sys.executable, "-m", "harness.cli", "up", "--reports", str(tmp_path / "reports")],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        state = tmp_path / "state" / "state.json"
        deadline = time.monotonic() + 120
        while not state.exists() and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state.exists(), up.stdout.read().decode() if up.stdout else "no output"
        target_file = tmp_path / "state" / "target.yaml"
        assert oct(target_file.stat().st_mode & 0o777) == "0o600"
        assert yaml.safe_load(target_file.read_text())["provider"] == "external"
        pids = set(json.loads(state.read_text())["pids"].values())
        processes = _descendants(pids)
        acceptance = subprocess.run([sys.executable, "-m", "harness.cli", "acceptance", "--target", str(target_file),
                                     "--reports", str(tmp_path / "reports"), "-k", "gw_2 or gw_4 or obs_1"],
                                    env=env, capture_output=True, text=True, cwd=REPO, timeout=300)
        assert acceptance.returncode == 0, acceptance.stdout[-3000:] + acceptance.stderr[-2000:]
        results = json.loads((tmp_path / "reports" / "latest" / "results.json").read_text())
        assert results["provider"] == "external" and results["verdict"] == "GO"
        assert [r["id"] for r in results["records"]] == ["GW-2", "GW-4", "OBS-1"]
        assert _group_members(pids)
    finally:  # the kill -9 is the test's action; it also ends `up` when a step above failed
        if up.poll() is None:
            os.kill(up.pid, signal.SIGKILL)
        up.wait(10)
    assert _wait_gone(pids, 20) == set()
    deadline = time.monotonic() + 10
    while _alive(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(processes) == set()


def test_a_gateway_that_cannot_give_its_prices_is_said_not_fatal() -> None:
    from harness.langfuse import LangfuseClient
    from harness.providers.wiring import langfuse_standin

    note = langfuse_standin("otlp", "http://127.0.0.1:9", "sk-x", LangfuseClient("http://127.0.0.1:9", "pk", "sk"))
    assert "model prices NOT seeded (ConnectError" in note
    assert langfuse_standin("ingestion", "http://127.0.0.1:9", "sk-x",
                            LangfuseClient("http://127.0.0.1:9", "pk", "sk")).endswith("(Langfuse v3 public API)")
