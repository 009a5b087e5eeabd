"""Distributed load: a master and two `harness load-worker` processes, each in its own network namespace
with its own address, against a mock bound on the namespaces' bridge. Needs root (ip netns)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness._proc import Supervisor
from harness.images import RUN_LABEL
from harness.load import LoadRefused, LoadSpec, open_loop, run_load
from harness.standins.mockllm import MockControl

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="network namespaces need root and iproute2")
REPO = Path(__file__).resolve().parents[2]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, list[str]]]:
    """A bridge at 10.213.N.1 (this host) and two namespaces at .2 and .3, each behind its own veth pair;
    yields (the host's address, the namespaces' names). Everything is deleted afterwards."""
    tag = os.getpid() % 10_000
    subnet, bridge = f"10.213.{tag % 250}", f"hxb{tag}"
    names = [f"hxw{tag}-{i}" for i in (1, 2)]
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{subnet}.1/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for index, name in enumerate(names, 1):
            host_end, ns_end = f"hxv{tag}{index}", f"hxp{tag}{index}"
            _ip("netns", "add", name)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            _ip("link", "set", ns_end, "netns", name)
            _ip("link", "set", host_end, "master", bridge, "up")
            _ip("-n", name, "addr", "add", f"{subnet}.{index + 1}/24", "dev", ns_end)
            _ip("-n", name, "link", "set", ns_end, "up")
            _ip("-n", name, "link", "set", "lo", "up")
        yield f"{subnet}.1", names
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


@pytest.fixture
def bridged_mock(namespaces: tuple[str, list[str]], tmp_path: Path) -> Iterator[tuple[str, MockControl]]:
    host, _ = namespaces
    supervisor = Supervisor(tmp_path)
    port_file = tmp_path / "mock.port"
    try:
        mock = supervisor.start("mockllm", [sys.executable, "-m", "harness.standins.mockllm", "--host", host,
                                            "--port-file", str(port_file)])
        supervisor.ready(mock, port_file.exists, 15)
        control = MockControl(f"http://{host}:{port_file.read_text()}")
        try:
            yield control.base_url, control
        finally:
            control.close()
    finally:
        supervisor.close()


def _workers(names: list[str], master: str, allow: list[str], log_dir: Path) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "HARNESS_LOAD_KEY": "sk-test", "PYTHONPATH": str(REPO)}
    processes = []
    for name in names:
        argv = ["ip", "netns", "exec", name, sys.executable, "-m", "harness.cli", "load-worker", "--master", master,
                *[a for h in allow for a in ("--allow-host", h)]]
        processes.append(subprocess.Popen(argv, env=env, text=True, stdout=subprocess.PIPE,
                                          stderr=(log_dir / f"{name}.log").open("w")))
    return processes


def _finish(processes: list[subprocess.Popen[str]]) -> list[str]:
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=60)[0])
        except subprocess.TimeoutExpired:
            process.kill()
            outputs.append(process.communicate()[0])
    return outputs


def test_two_remote_workers_agree_with_one_process(namespaces: tuple[str, list[str]],
                                                   bridged_mock: tuple[str, MockControl], tmp_path: Path) -> None:
    host, names = namespaces
    url, control = bridged_mock
    control.set("*", latency_ms=50, latency_dist="uniform", latency_spread_ms=10)
    spec = LoadSpec(url=url, key="sk-test", models=["gpt-4"], think_time_s=(0.0, 0.0), warmup=False)
    single = run_load(spec, open_loop(30, 10), tmp_path / "single", allow_hosts=[host])
    since = control.last_seq()
    master = f"{host}:{15_000 + os.getpid() % 10_000}"
    workers = _workers(names, master, [host], tmp_path)
    try:
        merged = run_load(spec, open_loop(30, 10), tmp_path / "merged", workers=2, master_bind=master,
                          allow_hosts=[host], worker_wait_s=30)
    finally:
        outputs = _finish(workers)
    sent = [int(m.group(1)) for out in outputs for m in re.finditer(r"(\d+) requests sent", out)]
    assert len(sent) == 2, outputs
    assert merged.summary.requests == sum(sent) == len(control.requests(since=since))  # nothing lost or doubled
    assert len({s.worker for s in merged.samples}) == 2
    assert merged.summary.success_ratio == single.summary.success_ratio == 1.0
    for q in ("p50", "p95"):
        a, b = merged.summary.latency_s[q], single.summary.latency_s[q]
        assert a is not None and b is not None and abs(a - b) <= 0.05 * b, (q, a, b)


def test_a_worker_refuses_a_host_it_was_not_given(namespaces: tuple[str, list[str]],
                                                  bridged_mock: tuple[str, MockControl], tmp_path: Path) -> None:
    """The master's allow-list is not the worker's: without its own --allow-host it sends nothing."""
    host, names = namespaces
    url, control = bridged_mock
    since = control.last_seq()
    master = f"{host}:{25_000 + os.getpid() % 10_000}"
    workers = _workers(names[:1], master, [], tmp_path)
    try:
        with pytest.raises(LoadRefused, match=r"refused the run: .*--allow-host of harness load-worker"):
            run_load(LoadSpec(url=url, key="sk-test", models=["gpt-4"], warmup=False), open_loop(5, 2),
                     tmp_path / "refused", workers=1, master_bind=master, allow_hosts=[host], worker_wait_s=30)
    finally:
        _finish(workers)
    assert control.requests(since=since) == []


def _labelled_containers() -> list[str]:
    done = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={RUN_LABEL}"], capture_output=True, text=True,
                          check=True)
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs docker and the services image")
def test_two_container_workers_send_the_whole_run(provider: tuple[str, MockControl], tmp_path: Path) -> None:
    """--worker-provider containers: each worker a container of the services image (the same runner a pod
    would run), on the host's network; every request reaches the mock once and no container outlives the run."""
    url, control = provider
    before = set(_labelled_containers())
    since = control.last_seq()
    run = run_load(LoadSpec(url=url, key="sk-test", models=["gpt-4"], think_time_s=(0.0, 0.0), warmup=False),
                   open_loop(20, 6), tmp_path / "containers", workers=2, worker_provider="containers")
    assert len({s.worker for s in run.samples}) == 2, {s.worker for s in run.samples}
    assert run.summary.requests == len(control.requests(since=since)) >= 100
    assert run.summary.success_ratio == 1.0
    assert set(_labelled_containers()) <= before
