"""The real n8n as the routing webhook (`router: n8n`): the shipped workflow, imported as it is in the repo,
routes the plan's matrix on n8n 2.41 (RT-1..RT-3, E2E-1), answers the Python router's contract (400 for a
body without a task; 502/504 naming the cause when the gateway fails: RT-4, the hang included), and a copy
without the keyword rule FAILs RT-2 on n8n. Setting it up wrongly is a one-line error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.chaos import expand, load_scenarios, run_case
from harness.checks.routing import bot_round_trip, routing_matrix
from harness.providers.n8n import N8nInstall, start_n8n
from harness.providers.processes import MissingDependency
from harness.stack import Stack
from harness.target import REPO, Target, TargetError, load_target
from tests.conftest import start_stack
from tests.n8n_install import waited_install

SHIPPED = REPO / "stack/router/litellm-router.json"


def _n8n_stack(tmp: Path, workflow: Path) -> Iterator[Stack]:
    waited_install()
    yield from start_stack(tmp, Target.embedded().model_copy(update={"router": "n8n", "n8n_workflow": workflow}))


@pytest.fixture(scope="module")
def n8n_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The embedded stack with the real n8n running the workflow file as shipped."""
    yield from _n8n_stack(tmp_path_factory.mktemp("n8n"), SHIPPED)


@pytest.fixture(scope="module")
def keywordless_n8n_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The same, with a copy of the workflow whose Task Analyzer lost the keyword rule."""
    tmp = tmp_path_factory.mktemp("n8n_keywordless")
    flow = json.loads(SHIPPED.read_text())
    analyzer = next(n for n in flow["nodes"] if n["name"] == "Task Analyzer")
    rule = 'if (keywords.some(k => task.toLowerCase().includes(k))) {\n  return { json: { task, route: "gpt-4", ' \
           'reason: "Complex reasoning" } };\n} else if'
    assert rule in analyzer["parameters"]["jsCode"]
    analyzer["parameters"]["jsCode"] = analyzer["parameters"]["jsCode"].replace(rule, "if")
    (tmp / "keywordless.json").write_text(json.dumps(flow))
    yield from _n8n_stack(tmp, tmp / "keywordless.json")


@pytest.mark.n8n
def test_the_shipped_workflow_routes_the_plans_matrix_on_real_n8n(n8n_stack: Stack) -> None:
    assert n8n_stack.target.n8n_workflow == SHIPPED and n8n_stack.versions["n8n"] == N8nInstall.pinned_version()
    outcomes = [*routing_matrix(n8n_stack), bot_round_trip(n8n_stack)]
    assert {o.id for o in outcomes} == {"RT-1", "RT-2", "RT-3", "E2E-1"}
    assert all(o.passed for o in outcomes), [o.summary() for o in outcomes if not o.passed]


@pytest.mark.n8n
@pytest.mark.parametrize("body", [{}, {"task": ""}, {"task": 5}, {"text": "Explain AI"}])
def test_n8n_answers_a_body_without_a_task_as_the_python_router_does(n8n_stack: Stack, body: object) -> None:
    answer = httpx.post(str(n8n_stack.target.router_url), json=body, timeout=30)
    assert answer.status_code == 400 and answer.json()["error"] == 'no task: send {"task": "<text>"}', answer.text


@pytest.mark.n8n
def test_rt4_passes_on_n8n_with_its_gateway_refused_slow_hung_or_cut(n8n_stack: Stack) -> None:
    cases = expand(load_scenarios(REPO / "scenarios"), n8n_stack.target, only="router-upstream")
    assert {c.variant for c in cases} == {"refused", "slow", "hung", "cut"}
    rt4 = {c.variant: next(o for o in run_case(n8n_stack, c).outcomes if o.id == "RT-4") for c in cases}
    assert all(o.passed for o in rt4.values()), [o.summary() for o in rt4.values()]
    # a hang is waited out by the workflow's own timeout (ROUTER_TIMEOUT_S), then named
    hung = rt4["hung"]
    assert hung.evidence["status"] == 504 and hung.measured >= n8n_stack.target.router_timeout_s, hung.summary()
    assert rt4["refused"].evidence["status"] == 502 and "unreachable" in rt4["refused"].detail


@pytest.mark.n8n
def test_rt2_fails_on_n8n_when_the_workflow_lost_the_keyword_rule(keywordless_n8n_stack: Stack) -> None:
    rt2 = {o.case.split(" ")[0]: o for o in routing_matrix(keywordless_n8n_stack) if o.id == "RT-2"}
    assert not rt2["keyword"].passed and rt2["keyword"].measured["response"] == "gemini-2", rt2["keyword"].summary()
    assert rt2["simple"].passed and rt2["long"].passed


@pytest.mark.n8n
def test_chaos_through_the_cli_with_router_n8n(tmp_path: Path) -> None:
    waited_install()
    result = subprocess.run([sys.executable, "-m", "harness.cli", "chaos", "--scenario", "router-upstream", "--quick",
                             "--router", "n8n", "--reports", str(tmp_path)], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "COLUMNS": "160"}, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
    data = json.loads(((tmp_path / "latest").resolve() / "results.json").read_text())
    assert data["verdict"] == "GO" and data["versions"]["n8n"] == N8nInstall.pinned_version()
    assert [r["status"] for r in data["records"] if r["id"] == "RT-4"] == ["PASS"]


def test_a_missing_n8n_is_one_line_naming_make_n8n(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_N8N_HOME", str(tmp_path))
    with pytest.raises(MissingDependency, match=r"n8n is not installed .* run `make n8n`") as caught:
        start_n8n(None, tmp_path, port=1, gateway_url="http://127.0.0.1:1", master_key="k",  # type: ignore[arg-type]
                  timeout_s=1, workflow=SHIPPED)
    assert "\n" not in str(caught.value)


def test_a_workflow_without_an_id_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    from harness._proc import StartupError
    from harness.providers.n8n import workflow_id

    flow = json.loads(SHIPPED.read_text())
    del flow["id"]
    (tmp_path / "flow.json").write_text(json.dumps(flow))
    with pytest.raises(StartupError, match=r'no "id"; n8n import:workflow rejects .* add "id"'):
        workflow_id(tmp_path / "flow.json")
    assert workflow_id(SHIPPED) == json.loads(SHIPPED.read_text())["id"]


def test_router_n8n_is_for_the_embedded_stack_only(tmp_path: Path) -> None:
    target = tmp_path / "t.yaml"
    target.write_text(f"provider: containers\nlitellm_config: {REPO / 'stack/litellm/config.yaml'}\nrouter: n8n\n")
    with pytest.raises(TargetError, match="router: n8n is started by the embedded stack only"):
        load_target(target)
    target.write_text(f"litellm_config: {REPO / 'stack/litellm/config.yaml'}\nrouter: n8n\nn8n_workflow: mine.json\n")
    assert load_target(target).n8n_workflow == tmp_path / "mine.json"
