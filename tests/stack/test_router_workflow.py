"""The n8n export (stack/router/litellm-router.json) is the same router as stack/router/router.py: its
nodes are wired Webhook -> Task Analyzer -> Has a task? -> Call LiteLLM -> Format Response -> Respond, and its
analyzer, run by Node.js as n8n would, routes every task of the plan's matrix (and edge cases) as
the Python router does. A workflow carrying the plan's own code (which reads `json.task`, where the
Webhook node puts `json.body.task`) fails this comparison."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from harness.target import REPO

sys.path.insert(0, str(REPO / "stack/router"))
import itertools

import router

WORKFLOW = REPO / "stack/router/litellm-router.json"
TASKS = ["Explain AI", "2+2=?", "x" * 60_000, "y" * 50_000, "z" * 50_001, "Please ANALYZE this", "reasonable",
         "a" * 60_000 + " explain", "hello"]
_RUNNER = """
const { code, tasks } = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const analyzer = new Function('$input', code);
console.log(JSON.stringify(tasks.map(task => analyzer({ item: { json: { body: { task } } } }).json)));
"""


def _node(code: str, tasks: list[str]) -> list[dict[str, str]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node missing: apt-get install -y nodejs (or make deps-test)")
    result = subprocess.run([node, "-e", _RUNNER], input=json.dumps({"code": code, "tasks": tasks}),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def _nodes() -> dict[str, dict[str, object]]:
    return {n["name"]: n for n in json.loads(WORKFLOW.read_text())["nodes"]}


def test_the_workflow_is_wired_as_the_plan_draws_it() -> None:
    flow = json.loads(WORKFLOW.read_text())
    nodes = _nodes()
    assert nodes["Webhook"]["parameters"]["path"] == "litellm-route"  # type: ignore[index]
    assert nodes["Webhook"]["parameters"]["httpMethod"] == "POST"  # type: ignore[index]
    order = ["Webhook", "Task Analyzer", "Has a task?", "Call LiteLLM", "Format Response", "Respond to Webhook"]
    for here, there in itertools.pairwise(order):
        assert flow["connections"][here]["main"][0][0]["node"] == there
    # no task: answered at once (400), no gateway call; n8n import:workflow needs the id
    assert flow["connections"]["Has a task?"]["main"][1][0]["node"] == "Respond to Webhook" and flow["id"]


def test_the_analyzer_routes_as_the_python_router() -> None:
    code = str(_nodes()["Task Analyzer"]["parameters"]["jsCode"])  # type: ignore[index]
    got = _node(code, TASKS)
    assert [(g["route"], g["reason"]) for g in got] == [router.route(t) for t in TASKS]
    assert all(g["task"] == t for g, t in zip(got, TASKS, strict=True))  # the task reaches the next node


def test_the_plans_own_analyzer_fails_the_comparison() -> None:
    plans = """const task = $input.item.json.task;
const keywords = ["reason", "analyze", "explain", "complex"];
if (keywords.some(k => task.toLowerCase().includes(k))) { return { route: "gpt-4", reason: "Complex reasoning" }; }
else if (task.length > 50000) { return { route: "claude-3", reason: "Long context" }; }
else { return { route: "gemini-2", reason: "Simple/fast" }; }"""
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run([node, "-e", _RUNNER], input=json.dumps({"code": plans, "tasks": TASKS[:1]}),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "toLowerCase" in result.stderr  # json.task is undefined under n8n
