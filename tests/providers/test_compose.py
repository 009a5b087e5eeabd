"""provider: compose on this machine's dockerd: the VPS plan's compose file (stack/compose) is GO under
acceptance and quick chaos; a copy of it with an observer that acknowledges before applying FAILs OBV-3,
one whose LiteLLM config has no fallbacks FAILs FB-1; a killed harness leaves nothing of the project."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import registry
from harness.chaos import chains_configured, expand, load_scenarios, run_case
from harness.images import MissingImage
from harness.pipeline import UserPipeline
from harness.providers.compose import PROJECT_LABEL, ComposeProvider, _images
from harness.target import REPO, load_target

pytestmark = pytest.mark.usefixtures("docker_compose")
EXAMPLE = REPO / "stack" / "compose" / "vps.target.yaml"


def _harness(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


def _results(reports: Path) -> dict[str, Any]:
    return json.loads((reports / "latest" / "results.json").read_text())


def _statuses(data: dict[str, Any], *ids: str) -> set[tuple[str, str]]:
    return {(r["id"], r["status"]) for r in data["records"] if r["id"] in ids}


def _users_copy(tmp: Path, *, compose: Callable[[dict[str, Any]], None] | None = None,
                config: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """The example as an operator's own tree (compose/ beside litellm/), edited; its target file."""
    shutil.copytree(REPO / "stack" / "compose", tmp / "compose")
    shutil.copytree(REPO / "stack" / "litellm", tmp / "litellm", ignore=shutil.ignore_patterns("requirements.lock"))
    edits = ((tmp / "compose" / "docker-compose.vps.yml", compose), (tmp / "litellm" / "config.yaml", config))
    for path, edit in edits:
        if edit is not None:
            document = yaml.safe_load(path.read_text())
            edit(document)
            path.write_text(yaml.safe_dump(document, sort_keys=False))
    return tmp / "compose" / "vps.target.yaml"


def _harness_projects(kind: tuple[str, ...]) -> list[str]:
    """Objects of any harness compose project (`harness-<run>`), by id."""
    fmt = '{{.ID}} {{.Label "' + PROJECT_LABEL + '"}}' if kind[0] != "volume" else \
        '{{.Name}} {{.Label "' + PROJECT_LABEL + '"}}'
    out = subprocess.run(["docker", *kind, "--format", fmt], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if " harness-" in line]


def test_acceptance_on_the_vps_compose_file_is_go(tmp_path: Path) -> None:
    result = _harness("acceptance", "--target", str(EXAMPLE), "--reports", str(tmp_path))
    data = _results(tmp_path)
    assert result.returncode == 0 and data["verdict"] == "GO", result.stdout[-3000:] + result.stderr[-2000:]
    assert data["provider"] == "compose"
    # which image each of the user's services ran, and the gateway's LiteLLM as it reports itself
    for service in ("litellm", "redis", "postgres", "n8n", "observer", "bot"):
        assert data["versions"][f"image_{service}"].split(" (")[0], data["versions"]
    assert data["versions"]["image_litellm"].startswith("ghcr.io/berriai/litellm:main-v1.103.0 (")
    assert data["versions"]["litellm"] == "1.103.0"
    # the user's observer container is judged (killed and restarted by docker), the router and bot are theirs
    assert _statuses(data, "OBV-3", "GIT-3", "EV-2", "RT-1", "E2E-1") == \
        {("OBV-3", "PASS"), ("GIT-3", "PASS"), ("EV-2", "PASS"), ("RT-1", "PASS"), ("E2E-1", "PASS")}
    # the backups are of the user's Postgres and Redis, restored into fresh servers and compared
    assert _statuses(data, "BK-1", "BK-2", "BK-3", "BK-4") == {(f"BK-{n}", "PASS") for n in range(1, 5)}
    assert (tmp_path / "latest" / "logs" / "litellm.log").stat().st_size > 0


def test_quick_chaos_on_the_vps_compose_file_is_go(tmp_path: Path) -> None:
    result = _harness("chaos", "--quick", "--target", str(EXAMPLE), "--reports", str(tmp_path))
    data = _results(tmp_path)
    assert result.returncode == 0 and data["verdict"] == "GO", result.stdout[-3000:] + result.stderr[-2000:]
    assert data["provider"] == "compose"
    assert _statuses(data, "FB-1", "RT-4", "E2E-2") == {("FB-1", "PASS"), ("RT-4", "PASS"), ("E2E-2", "PASS")}


def _ack_first(document: dict[str, Any]) -> None:
    document["services"]["observer"]["command"].append("--ack-first")


def _no_fallbacks(document: dict[str, Any]) -> None:
    document.get("router_settings", {}).pop("fallbacks", None)


def _with_own_langfuse(document: dict[str, Any]) -> None:
    """The operator's Langfuse as a service of their file (the stand-in's image: a real one cannot be built here)."""
    document["services"]["langfuse"] = {
        "image": "gateway-harness/services:latest",
        "command": ["python", "-m", "harness.standins.langfuse", "--host", "0.0.0.0", "--port", "3000"],
        "environment": {"LANGFUSE_PUBLIC_KEY": "pk-lf-operator", "LANGFUSE_SECRET_KEY": "sk-lf-operator-secret"},
        "ports": ["3000:3000"]}


def _broken(document: dict[str, Any]) -> None:
    _ack_first(document)
    _with_own_langfuse(document)


def test_their_own_langfuse_is_used_an_ack_first_observer_fails_obv3_no_fallbacks_fail_fb1(tmp_path: Path) -> None:
    """One copy of the example (one stack start for three controls): its observer service acknowledges before
    applying (killed and restarted by docker), its LiteLLM config has no fallbacks, and it has a Langfuse of its
    own, which the harness uses instead of its stand-in."""
    path = _users_copy(tmp_path, compose=_broken, config=_no_fallbacks)
    document = yaml.safe_load(path.read_text())
    document["compose"]["services"]["langfuse"] = "langfuse"
    document["compose"].update(langfuse_public_key="pk-lf-operator", langfuse_secret_key="sk-lf-operator-secret")
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    provider = ComposeProvider(load_target(path), tmp_path / "run")
    stack = provider.start()
    try:
        assert stack.target.langfuse is not None and not stack.target.langfuse.standin
        assert "harness-langfuse" not in provider.ids and not any("langfuse:" in s for s in stack.standins)
        [obs1] = registry.run("OBS-1", stack)  # the gateway's trace, read from their Langfuse
        assert stack.target.events is not None
        rig = UserPipeline(stack.target.events, tmp_path / "events", control=stack.control)
        try:
            [obv3] = registry.run("OBV-3", stack, {"pipeline": rig, "observer": None})
        finally:
            rig.close()
        planned = chains_configured(stack.target)  # the chaos suite's FB-1 [<chain> in the config]
        [case] = [c for c in expand(load_scenarios(REPO / "scenarios"), stack.target, quick=True,
                                    only="primary-failure") if c.variant == "refused"]
        served = run_case(stack, case).outcomes  # FB-1 with the primary refused at its fault proxy
    finally:
        provider.stop()
    assert obs1.passed, obs1.summary()
    assert not obv3.passed and obv3.measured["lost"] + obv3.measured["not_committed"] > 0, obv3.summary()
    assert planned and not any(o.passed for o in planned), [o.summary() for o in planned]
    assert any(o.id == "FB-1" and not o.passed for o in served), [o.summary() for o in served]


_HOLD = """
import sys, time
from pathlib import Path
from harness.providers.compose import ComposeProvider
from harness.target import load_target
provider = ComposeProvider(load_target(Path(sys.argv[1])), Path(sys.argv[2]))
stack = provider.start()
print("up", provider.project, flush=True)
time.sleep(600)
"""


def test_a_killed_harness_leaves_no_container_network_or_volume(tmp_path: Path) -> None:
    kinds = (("ps", "-a"), ("network", "ls"), ("volume", "ls"))
    assert not any(_harness_projects(kind) for kind in kinds), "objects of an earlier compose run are still there"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(EXAMPLE), str(tmp_path / "run")], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    assert holder.stdout is not None
    line = holder.stdout.readline()
    assert line.startswith("up harness-"), line + holder.stdout.read()[-2000:]
    # six services of the user's, five of the harness's; the project's network; the postgres volume
    assert len(_harness_projects(kinds[0])) == 11 and len(_harness_projects(kinds[1])) == 1
    assert len(_harness_projects(kinds[2])) == 1
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and any(_harness_projects(kind) for kind in kinds):
        time.sleep(0.5)
    assert not any(_harness_projects(kind) for kind in kinds), [_harness_projects(kind) for kind in kinds]


def test_a_service_whose_image_is_missing_is_a_one_line_error_naming_the_fix() -> None:
    target = load_target(EXAMPLE)
    config = {"services": {"litellm": {"image": "ghcr.io/berriai/litellm:main-v0.0.0-missing"},
                           "observer": {"image": "example.invalid/observer:1"}}}
    with pytest.raises(MissingImage) as caught:
        _images(config, target)
    message = str(caught.value)
    assert "\n" not in message and "litellm:main-v0.0.0-missing" in message and "docker build -t" in message
