"""OBS-1..OBS-3 pass on the reference stack and FAIL when tracing, pricing or sessions break."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.checks import observability
from harness.stack import Stack
from harness.target import Target
from tests.conftest import reference_config, start_stack

HOOK = Path(__file__).parent.parent / "fixtures" / "strip_session.py"


def _free_gemini_and_lost_sessions(config: dict[str, Any]) -> None:
    """gemini-2 priced at $0 (as a retired id is in LiteLLM's map) and a hook that drops session ids."""
    for model in config["model_list"]:
        if model["model_name"] == "gemini-2":
            model["litellm_params"].update(input_cost_per_token=0.0, output_cost_per_token=0.0)
    config["litellm_settings"]["callbacks"] = ["strip_session.handler"]


@pytest.fixture(scope="module")
def mispriced_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("mispriced")
    config = reference_config(tmp, _free_gemini_and_lost_sessions)
    shutil.copy(HOOK, config.parent / HOOK.name)
    target = Target.embedded().model_copy(update={"litellm_config": config, "thresholds": {"OBS-1": 4.0}})
    yield from start_stack(tmp, target)


@pytest.fixture(scope="module")
def untraced_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("untraced")

    def no_callbacks(config: dict[str, Any]) -> None:
        for key in ("success_callback", "failure_callback"):
            config["litellm_settings"].pop(key)

    target = Target.embedded().model_copy(update={"litellm_config": reference_config(tmp, no_callbacks),
                                                  "thresholds": {"OBS-1": 3.0}})
    yield from start_stack(tmp, target)


def test_all_observability_checks_pass_on_the_reference_stack(stack: Stack) -> None:
    for check in (observability.trace_appears, observability.trace_content, observability.session_propagated):
        outcome = check(stack)
        assert outcome.passed, outcome.summary()


def test_obs1_fails_when_the_langfuse_callback_is_off(untraced_stack: Stack) -> None:
    outcome = observability.trace_appears(untraced_stack)
    assert not outcome.passed and "not visible within 3 s" in outcome.detail
    assert outcome.evidence["polls"] > 1


def test_obs2_fails_when_a_model_is_booked_at_zero_cost(mispriced_stack: Stack) -> None:
    outcome = observability.trace_content(mispriced_stack)
    assert not outcome.passed and "gemini-2: cost 0.0 USD is not > 0" in outcome.detail
    assert "gpt-4:" not in outcome.detail


def test_obs2_fails_when_traced_latency_misses_the_measured_one(stack: Stack) -> None:
    strict = stack.target.model_copy(update={"thresholds": {"OBS-2": 0.0, "OBS-2.floor_s": 0.0}})
    outcome = observability.trace_content(Stack(**{**stack.__dict__, "target": strict}))
    assert not outcome.passed and "% off; allowed 0% or 0 s)" in outcome.detail


def test_obs3_fails_when_the_gateway_drops_the_session_id(mispriced_stack: Stack) -> None:
    outcome = observability.session_propagated(mispriced_stack)
    assert not outcome.passed and "no trace with sessionId" in outcome.detail
