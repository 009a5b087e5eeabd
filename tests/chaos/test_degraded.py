"""Degraded is not down: a Langfuse outage must leave serving within the plan's budget and lose no trace
(OBS-6); a total outage with every provider hung must still surface as a clean error within FB-5's bound,
whatever timeout the config under test sets; a provider's error event inside a 200 stream must be fallen
back on or reach the client, never end as success (FB-8)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from harness.chaos import expand, load_scenarios, run_case
from harness.chaos.scenario import Case
from harness.stack import Stack
from harness.target import REPO, ServingBudget, Target
from tests.conftest import reference_config, stack_with_hook, start_stack

SCENARIOS = load_scenarios(REPO / "scenarios")


def _case(stack: Stack, scenario: str, variant: str) -> Case:
    return next(c for c in expand(SCENARIOS, stack.target) if c.scenario.name == scenario and c.variant == variant
                and c.chain[0] == "gpt-4")


def _verdict(stack: Stack, scenario: str, variant: str, ident: str) -> Any:
    return next(o for o in run_case(stack, _case(stack, scenario, variant)).outcomes if o.id == ident)


@pytest.fixture(scope="module")
def waiting_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The reference config with LiteLLM's 600 s default timeouts put back."""
    tmp = tmp_path_factory.mktemp("waiting")

    def edit(config: dict[str, Any]) -> None:
        config["router_settings"].update(timeout=600, stream_timeout=600)
        config["litellm_settings"]["request_timeout"] = 600

    yield from start_stack(tmp, Target.embedded().model_copy(update={"litellm_config": reference_config(tmp, edit)}))


@pytest.fixture(scope="module")
def forgetful_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The reference stack with the langfuse SDK's own default: a batch tried 3 times over ~3 s, then dropped;
    a burst of 40 keeps Langfuse refused for several of its flushes."""
    tmp = tmp_path_factory.mktemp("forgetful")
    before = os.environ.get("LANGFUSE_MAX_RETRIES")
    os.environ["LANGFUSE_MAX_RETRIES"] = "3"
    try:
        target = Target.embedded()
        # lost traces never arrive: a 15 s wait after recovery is enough to count them
        target = target.model_copy(update={"plan": target.plan.model_copy(update={
            "serving": ServingBudget(burst=40)}), "thresholds": {"OBS-6.recover_s": 15.0}})
        yield from start_stack(tmp, target)
    finally:
        if before is None:
            os.environ.pop("LANGFUSE_MAX_RETRIES", None)
        else:
            os.environ["LANGFUSE_MAX_RETRIES"] = before


@pytest.fixture(scope="module")
def swallowing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The reference config plus a streaming hook that ends a failed stream as a finished one."""
    yield from stack_with_hook(tmp_path_factory.mktemp("swallow_stream_errors"), "swallow_stream_errors")


@pytest.fixture(scope="module")
def blocking_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The reference config plus a hook that calls Langfuse on the request path."""
    yield from stack_with_hook(tmp_path_factory.mktemp("langfuse_blocking"), "langfuse_blocking")


@pytest.mark.parametrize("variant", ["refused", "timeout"])
def test_obs6_passes_on_the_reference_stack(stack: Stack, variant: str) -> None:
    obs6 = _verdict(stack, "langfuse-down", variant, "OBS-6")
    assert obs6.passed, obs6.summary()
    assert obs6.measured["traces_lost"] == 0 and obs6.evidence["traces_expected"] == stack.target.plan.serving.burst


def test_obs6_fails_when_the_trace_client_gives_up_during_the_outage(forgetful_stack: Stack) -> None:
    obs6 = _verdict(forgetful_stack, "langfuse-down", "refused", "OBS-6")
    assert not obs6.passed and obs6.measured["traces_lost"] > 0, obs6.summary()
    # the outage outlasts the SDK's 3 tries: a 2 s one (the burst alone) was sometimes ridden out
    assert "never arrived" in obs6.detail and obs6.evidence["outage_s"] >= 6


def test_obs6_fails_when_a_hook_waits_on_a_hung_langfuse(blocking_stack: Stack) -> None:
    obs6 = _verdict(blocking_stack, "langfuse-down", "timeout", "OBS-6")
    assert not obs6.passed, obs6.summary()
    assert "requests failed" in obs6.detail or "over the 5 s budget" in obs6.detail


def test_fb5_passes_with_hung_providers_on_the_reference_stack(stack: Stack) -> None:
    fb5 = _verdict(stack, "total-outage", "hung", "FB-5")
    assert fb5.passed and fb5.measured < 30, fb5.summary()


def test_fb5_fails_with_hung_providers_when_the_config_waits_600_s(waiting_stack: Stack) -> None:
    fb5 = _verdict(waiting_stack, "total-outage", "hung", "FB-5")
    # the probe gives up past FB-5's bound (plus slack): the plan's bound decides, not the config's timeout
    assert not fb5.passed and fb5.measured >= 30 and "no answer" in fb5.detail, fb5.summary()


@pytest.mark.parametrize("variant", ["error-event", "error-mid-stream"])
def test_fb8_passes_on_the_reference_stack(stack: Stack, variant: str) -> None:
    fb8 = _verdict(stack, "stream-error", variant, "FB-8")
    assert fb8.passed, fb8.summary()


def test_fb8_fails_when_an_in_stream_error_is_passed_on_as_success(swallowing_stack: Stack) -> None:
    fb8 = _verdict(swallowing_stack, "stream-error", "error-mid-stream", "FB-8")
    assert not fb8.passed and "the failure passed as success" in fb8.detail, fb8.summary()
