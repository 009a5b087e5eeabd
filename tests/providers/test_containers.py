"""The containers provider on this machine's dockerd, with images from `harness images build`: the same
acceptance criteria as the embedded stack, the quick chaos run, and nothing left after a kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.providers.containers import RUN_LABEL
from harness.target import REPO

pytestmark = pytest.mark.usefixtures("docker_daemon")


def _harness(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


def _labelled(kind: tuple[str, ...]) -> list[str]:
    out = subprocess.run(["docker", *kind, "-q", "--filter", f"label={RUN_LABEL}"], capture_output=True, text=True)
    return out.stdout.split()


def test_acceptance_on_containers_passes_the_embedded_criteria(tmp_path: Path) -> None:
    # the backup checks on Docker services are shown by the compose provider's acceptance (the user's own)
    result = _harness("acceptance", "--provider", "containers", "--reports", str(tmp_path), "-k", "not test_backup")
    data = json.loads((tmp_path / "latest" / "results.json").read_text())
    assert result.returncode == 0 and data["verdict"] == "GO", result.stdout[-3000:] + result.stderr[-2000:]
    assert data["provider"] == "containers"
    ids = {r["id"] for r in data["records"]}
    embedded = {"GW-1", "GW-2", "GW-3", "GW-4", "GW-5", "OBS-1", "OBS-2", "OBS-3", "OBS-4", "OBS-5", "MOD-1",
                "MOD-2", "MOD-3", "MOD-4", "MOD-5", "ESC-1", "QT-1", "QT-2", "QT-3", "QT-4", "BUD-1", "CA-1", "CA-2",
                "CA-3", "CA-4", "COST-1", "SEC-1", "SEC-2", "SEC-3", "EV-1", "EV-2", "OBV-1", "OBV-2", "OBV-3",
                "GIT-1", "GIT-2", "GIT-3", "RT-1", "RT-2", "RT-3", "E2E-1",
                "AG-1", "AG-2", "AG-3", "AG-4", "AG-5", "FB-8", "FB-9"}
    assert ids == embedded
    # the router and the bot run in containers too: their checks run, not skip
    assert {r["status"] for r in data["records"] if r["id"] in ("RT-1", "RT-2", "RT-3", "E2E-1")} == {"PASS"}
    assert data["versions"]["image_litellm"].startswith("ghcr.io/berriai/litellm:")
    assert (tmp_path / "latest" / "logs" / "litellm.log").stat().st_size > 0


def test_quick_chaos_on_containers(tmp_path: Path) -> None:
    # the quick run's other scenarios go through Docker on the compose provider (tests/providers/test_compose.py):
    # here the reference services' own containers, through the gateway's, router's and bot's fault proxies
    scenarios = [arg for name in ("primary-failure", "recovery", "router-upstream", "bot-router-down")
                 for arg in ("--scenario", name)]
    result = _harness("chaos", "--quick", *scenarios, "--provider", "containers", "--reports", str(tmp_path))
    data = json.loads((tmp_path / "latest" / "results.json").read_text())
    assert result.returncode == 0 and data["verdict"] == "GO", result.stdout[-3000:]
    assert data["provider"] == "containers" and {"FB-1", "FB-2", "FB-6"} <= {r["id"] for r in data["records"]}
    assert {(r["id"], r["status"]) for r in data["records"] if r["id"] in ("RT-4", "E2E-2")} == \
        {("RT-4", "PASS"), ("E2E-2", "PASS")}


_HOLD = """
import sys, time
from pathlib import Path
from harness.providers.containers import ContainersProvider
from harness.target import Target
stack = ContainersProvider(Target.embedded(), Path(sys.argv[1])).start()
print("up", flush=True)
time.sleep(600)
"""


def test_a_killed_harness_leaves_no_container_network_or_volume(tmp_path: Path) -> None:
    assert not _labelled(("ps", "-a")), "containers of an earlier run are still there"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path / "run")], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert holder.stdout is not None
    line = holder.stdout.readline()
    assert line.strip() == "up", line + holder.stdout.read()[-2000:]
    # redis, postgres, mockllm, langfuse, alerts, telegram, faults, litellm, router, bot; one network
    assert len(_labelled(("ps", "-a"))) == 10 and len(_labelled(("network", "ls"))) == 1
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (_labelled(("ps", "-a")) or _labelled(("network", "ls"))):
        time.sleep(0.5)
    assert not _labelled(("ps", "-a")) and not _labelled(("network", "ls")) and not _labelled(("volume", "ls"))
