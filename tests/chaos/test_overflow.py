"""FB-9: a prompt over the primary's context window (the provider's own 400) goes to the plan's long-context
model; a context-window fallback to a short model FAILs it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.chaos import expand, load_scenarios, run_case
from harness.stack import Stack
from harness.target import REPO, Target
from tests.conftest import reference_config, start_stack

SCENARIOS = load_scenarios(REPO / "scenarios")


def _fb9(stack: Stack, primary: str) -> Any:
    case = next(c for c in expand(SCENARIOS, stack.target) if c.scenario.name == "context-overflow"
                and c.chain[0] == primary)
    return next(o for o in run_case(stack, case).outcomes if o.id == "FB-9")


@pytest.fixture(scope="module")
def short_sighted_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Long prompts on gpt-4 sent to the cheap, short-context model."""
    tmp = tmp_path_factory.mktemp("short-sighted")

    def edit(config: dict[str, Any]) -> None:
        config["router_settings"]["context_window_fallbacks"] = [{"gpt-4": ["gemini-2"]}]

    yield from start_stack(tmp, Target.embedded().model_copy(update={"litellm_config": reference_config(tmp, edit)}))


@pytest.mark.parametrize("primary", ["gpt-4", "gemini-2"])
def test_fb9_passes_on_the_reference_stack(stack: Stack, primary: str) -> None:
    fb9 = _fb9(stack, primary)
    assert fb9.passed and fb9.measured["served_by"] == "claude-3", fb9.summary()


def test_fb9_fails_when_the_context_fallback_is_a_short_model(short_sighted_stack: Stack) -> None:
    fb9 = _fb9(short_sighted_stack, "gpt-4")
    assert not fb9.passed and "answered by gemini-2" in fb9.detail, fb9.summary()
