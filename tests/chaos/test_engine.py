"""The chaos engine's verdicts: PASS on the reference stack, FAIL on stacks broken the way real ones are.

Broken on purpose: no fallbacks (FB-1, FB-4), retries with long backoff and a long timeout (FB-2,
FB-5, FB-7), failures not sent to Langfuse (FB-3), a provider that never recovers (FB-6), and a
gateway that fails closed without Redis (CA-5).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.chaos import Case, Scenario, expand, load_scenarios, run_case
from harness.chaos.engine import judge
from harness.chaos.inject import inject
from harness.chaos.probe import ProbeResult
from harness.chaos.scenario import Fault, Probe
from harness.stack import Stack
from harness.target import REPO, Endpoint, Target, TargetError
from tests.conftest import reference_config, start_stack

SCENARIOS = load_scenarios(REPO / "scenarios")
FIXTURES = Path(__file__).parent.parent / "fixtures"


def _case(stack: Stack, scenario: str, variant: str, chain: str = "gpt-4") -> Case:
    cases = [c for c in expand(SCENARIOS, stack.target) if c.scenario.name == scenario and c.variant == variant
             and c.chain[0] == chain]
    assert cases, f"no case {scenario}/{variant}/{chain}"
    return cases[0]


def _verdicts(stack: Stack, case: Case) -> dict[str, Any]:
    return {o.id: o for o in run_case(stack, case).outcomes}


def _with_target(stack: Stack, **thresholds: float) -> Stack:
    target = stack.target.model_copy(update={"thresholds": {**stack.target.thresholds, **thresholds}})
    return Stack(**{**stack.__dict__, "target": target})


@pytest.fixture(scope="module")
def unguarded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """No fallback chains, and a hook that refuses every call when Redis is unreachable."""
    tmp = tmp_path_factory.mktemp("unguarded")

    def edit(config: dict[str, Any]) -> None:
        config["router_settings"].pop("fallbacks")
        config["litellm_settings"]["callbacks"] = ["redis_required.handler"]

    config = reference_config(tmp, edit)
    shutil.copy(FIXTURES / "redis_required.py", config.parent)
    # the target still declares the plan's chains: the gateway is what lost them
    target = Target.embedded().model_copy(update={"litellm_config": config})
    yield from start_stack(tmp, target)


@pytest.fixture(scope="module")
def sluggish_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Retries with backoff, a 30 s timeout, and failures not sent to Langfuse."""
    tmp = tmp_path_factory.mktemp("sluggish")

    def edit(config: dict[str, Any]) -> None:
        config["router_settings"].update(num_retries=3, timeout=30, stream_timeout=30)
        config["litellm_settings"]["request_timeout"] = 30
        config["litellm_settings"].pop("failure_callback")

    yield from start_stack(tmp, Target.embedded().model_copy(update={"litellm_config": reference_config(tmp, edit)}))


def test_quick_run_passes_on_the_reference_stack(stack: Stack) -> None:
    cases = expand(SCENARIOS, stack.target, quick=True)
    assert {c.scenario.name for c in cases} >= {"primary-failure", "all-but-last-down", "total-outage", "recovery",
                                                "slow-primary", "stream-cut", "cache-down"}
    for case in cases:
        run = run_case(stack, case)
        assert run.outcomes and all(o.passed for o in run.outcomes), [o.summary() for o in run.outcomes]
        events = [e["event"] for e in run.timeline]
        assert any(e.startswith("fault on") for e in events) and "fault off" in events


def test_the_timeline_shows_fault_attempt_fallback_and_recovery(stack: Stack) -> None:
    run = run_case(stack, _case(stack, "recovery", "http-500"))
    events = [e["event"] for e in run.timeline]
    order = ["fault on: gpt-4 status", "under fault: attempt failed at gpt-4 (500)",
             "under fault: answered by claude-3", "fault off", "recovered: gpt-4"]
    positions = [next(i for i, e in enumerate(events) if e.startswith(prefix)) for prefix in order]
    assert positions == sorted(positions), events
    assert [e["t"] for e in run.timeline] == sorted(e["t"] for e in run.timeline)


def test_fb1_and_fb4_fail_without_fallbacks(unguarded_stack: Stack) -> None:
    fb1 = _verdicts(unguarded_stack, _case(unguarded_stack, "primary-failure", "http-500"))["FB-1"]
    assert not fb1.passed and "HTTP 500" in fb1.detail
    fb4 = _verdicts(unguarded_stack, _case(unguarded_stack, "all-but-last-down", "refused"))["FB-4"]
    assert not fb4.passed


def test_ca5_fails_when_the_gateway_needs_redis(unguarded_stack: Stack) -> None:
    ca5 = _verdicts(unguarded_stack, _case(unguarded_stack, "cache-down", "refused"))["CA-5"]
    assert not ca5.passed and ca5.measured["ok"] == 0 and "HTTP [503]" in ca5.detail
    assert "cache unavailable" in ca5.detail


@pytest.fixture(scope="module")
def patient_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The reference stack whose spend counter reads Redis with redis-py's defaults (1 s timeouts, 3 retries
    with exponential backoff), as the reference hook did before CA-5 was judged on time."""
    tmp = tmp_path_factory.mktemp("patient")
    config = reference_config(tmp, lambda config: None)
    hook = config.parent / "budgets.py"
    text = hook.read_text()
    patched = text.replace("socket_timeout=0.25,\n                              socket_connect_timeout=0.25, "
                           "retry=Retry(NoBackoff(), 0))", "socket_timeout=1.0, socket_connect_timeout=1.0)")
    assert patched != text, "budgets.py's Redis client changed: update this control"
    hook.write_text(patched)
    yield from start_stack(tmp, Target.embedded().model_copy(update={"litellm_config": config}))


def test_ca5_fails_when_a_hung_redis_stalls_every_request(patient_stack: Stack) -> None:
    """A 200 after ~14 s is not "keeps serving": the plan's budget is 5 s a request, P95 2 s."""
    ca5 = _verdicts(patient_stack, _case(patient_stack, "cache-down", "timeout"))["CA-5"]
    assert not ca5.passed and ca5.measured["worst_s"] > 5.0, ca5.summary()
    assert "over the 5 s budget" in ca5.detail and ca5.measured["steady_s"] < 1.0


def test_fb2_fails_with_retries_and_backoff(sluggish_stack: Stack) -> None:
    # LiteLLM 1.103.0 with num_retries 3: about 9 s before the fallback answers
    verdicts = _verdicts(sluggish_stack, _case(sluggish_stack, "primary-failure", "http-500"))
    assert verdicts["FB-1"].passed, verdicts["FB-1"].summary()
    assert not verdicts["FB-2"].passed and verdicts["FB-2"].measured >= 5.0, verdicts["FB-2"].summary()


def test_fb3_fails_when_failures_are_not_logged(sluggish_stack: Stack) -> None:
    verdicts = _verdicts(sluggish_stack, _case(sluggish_stack, "primary-failure", "refused"))
    assert verdicts["FB-1"].passed, verdicts["FB-1"].summary()
    assert not verdicts["FB-3"].passed, verdicts["FB-3"].summary()
    assert verdicts["FB-3"].measured["failed"] == []


def test_fb7_fails_when_the_timeout_is_longer_than_the_limit(sluggish_stack: Stack) -> None:
    fb7 = _verdicts(sluggish_stack, _case(sluggish_stack, "slow-primary", "latency-5s"))["FB-7"]
    assert not fb7.passed and "no answer from claude-3" in fb7.detail


def test_fb5_fails_when_a_total_outage_is_slow_to_surface(sluggish_stack: Stack) -> None:
    strict = _with_target(sluggish_stack, **{"FB-5": 1.0})
    fb5 = _verdicts(strict, _case(strict, "total-outage", "http-503"))["FB-5"]
    assert not fb5.passed and fb5.measured >= 1.0


def test_fb6_fails_when_the_provider_stays_down(stack: Stack) -> None:
    strict = _with_target(stack, **{"FB-6": 2.0})
    case = _case(strict, "recovery", "http-500")
    # the scenario's own fault (HTTP 500 from the mock) is rolled back; the network one is not
    case = Case(case.scenario.model_copy(update={"steady_state": None}), case.chain, case.variant)
    lingering = inject(strict, "gpt-4", Fault(target="primary", kind="refused"))
    try:
        run = run_case(strict, case)
    finally:
        lingering()
    fb6 = {o.id: o for o in run.outcomes}["FB-6"]
    assert not fb6.passed and "still served by claude-3" in fb6.detail


def test_fb7_judges_a_silent_truncation_as_fail() -> None:
    scenario = Scenario(name="s", title="t", variants={"cut": []}, method=[Probe(stream=True, expect="reported")])
    case = Case(scenario, ("gpt-4", "claude-3"), "cut")
    silent = ProbeResult(status=200, seconds=0.1, sent_at=0, trace_id="x", text="half", finish_reason="stop",
                         served_by={"headers": "gpt-4"})
    stack = Stack.over(Target.embedded().model_copy(update={"gateway": Endpoint(url="http://127.0.0.1:9")}))
    assert not judge("FB-7", case, scenario.method[0], silent, stack).passed
    silent.stream_error, silent.finish_reason = "APIConnectionError", None
    assert judge("FB-7", case, scenario.method[0], silent, stack).passed


def test_a_bad_scenario_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: x\ntitle: y\nvariants: {a: [{target: primary, kind: melt}]}\n"
                                       "method: [{expect: next}]\n")
    with pytest.raises(TargetError) as error:
        load_scenarios(tmp_path)
    assert "bad.yaml: variants.a.0.kind:" in str(error.value) and "\n" not in str(error.value)


def test_several_scenarios_can_be_picked_by_name() -> None:
    picked = expand(SCENARIOS, Target.embedded(), quick=True, only=["recovery", "cache-down"])
    assert {c.scenario.name for c in picked} == {"recovery", "cache-down"}
    assert expand(SCENARIOS, Target.embedded(), quick=True, only="recovery") == \
        [c for c in picked if c.scenario.name == "recovery"]


def test_quick_expansion_is_small_and_full_covers_every_chain() -> None:
    target = Target.embedded()
    quick, full = expand(SCENARIOS, target, quick=True), expand(SCENARIOS, target)
    # one chain, the quick variants: 17 cases today (a budget, not a count: keep the CI chaos run short)
    assert {c.chain[0] for c in quick if c.chain} == {"gpt-4"} and len(quick) < 20
    assert {c.chain[0] for c in full if c.chain} == {"gpt-4", "claude-3", "gemini-2"}
    # the service hops' scenarios have no chain: one case per variant
    assert {c.id for c in quick if not c.chain} == {"router-upstream[refused]", "bot-router-down[refused]"}
    kinds = {c.variant for c in full if c.scenario.name == "primary-failure"}
    assert kinds == {"refused", "down", "http-500", "http-429", "http-503", "timeout", "reset"}
