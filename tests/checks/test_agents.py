"""AG-1..AG-3 negative controls: a gateway hook that drops tool calls FAILs AG-1; a fallback model that answers
a tool-calling request in prose FAILs AG-2, naming it; the reference stack PASSes all three."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from harness.checks import agents, failover
from harness.stack import Stack
from tests.conftest import stack_with_hook


@pytest.fixture(scope="module")
def swallowing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from stack_with_hook(tmp_path_factory.mktemp("swallow"), "swallow_stream_errors")


@pytest.fixture(scope="module")
def stripping_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from stack_with_hook(tmp_path_factory.mktemp("strip-tools"), "strip_tool_calls")


def test_the_reference_stack_passes_ag1_to_ag3(stack: Stack) -> None:
    for check in (agents.tool_round_trip, agents.structured_output, agents.fallback_keeps_tools,
                  agents.anthropic_native_route, agents.agent_fleet, failover.stream_error,
                  failover.context_overflow):
        outcomes = check(stack)
        assert outcomes and all(o.passed for o in outcomes), [o.summary() for o in outcomes if not o.passed]


def test_ag1_fails_when_the_gateway_drops_tool_calls(stripping_stack: Stack) -> None:
    outcomes = {o.case: o for o in agents.tool_round_trip(stripping_stack)}
    plain = [o for case, o in outcomes.items() if case.endswith("/ plain")]
    assert plain and all(not o.passed and "no tool call, prose instead" in o.detail for o in plain), \
        [o.summary() for o in plain]


def test_ag5_fails_for_the_agents_whose_tool_calls_the_gateway_drops(stripping_stack: Stack) -> None:
    outcomes = {o.case: o for o in agents.agent_fleet(stripping_stack)}
    # the hook drops tool calls from plain answers: the agents that offer tools without streaming
    for name in ("support", "analytics", "inventory"):
        assert not outcomes[name].passed and "no tool call, prose instead" in outcomes[name].detail, name
    assert outcomes["ceo-insights"].passed and outcomes["content"].passed


def test_ag2_fails_naming_the_fallback_that_answered_in_prose(stack: Stack) -> None:
    mock = stack.mock()
    assert mock is not None
    fallback = stack.target.upstream_model("claude-3")
    mock.set(fallback, ignore_tools=True)
    try:
        outcomes = {o.case: o for o in agents.fallback_keeps_tools(stack)}
    finally:
        mock.reset(fallback)
        mock.close()
    broken = outcomes["gpt-4 down / plain"]
    assert not broken.passed and broken.detail.startswith("claude-3 answered without the tool call"), broken.summary()
    assert outcomes["claude-3 down / plain"].passed  # gpt-4 still answers with the tool call


@contextmanager
def _with_behaviour(stack: Stack, alias: str, **behaviour: Any) -> Iterator[None]:
    mock = stack.mock()
    assert mock is not None
    try:
        with mock.behaving(stack.target.upstream_model(alias), **behaviour):
            yield
    finally:
        mock.close()


def test_ag3_fails_when_a_model_answers_structured_output_in_prose(stack: Stack) -> None:
    with _with_behaviour(stack, "gemini-2", reply="Sure! The invoice is INV-7."):
        outcomes = {o.case: o for o in agents.structured_output(stack)}
    assert not outcomes["gemini-2"].passed and "not valid for the schema" in outcomes["gemini-2"].detail
    assert outcomes["gpt-4"].passed


def test_ag4_fails_when_a_model_calls_a_tool_it_was_not_offered(stack: Stack) -> None:
    with _with_behaviour(stack, "claude-3", tool_fault="unknown_tool"):
        outcomes = {o.case: o for o in agents.anthropic_native_route(stack)}
    broken = outcomes["claude-3 / plain"]
    assert not broken.passed and "which was never offered" in broken.detail, broken.summary()
    assert outcomes["gpt-4 / plain"].passed


def test_fb8_fails_through_the_sdk_when_a_failed_stream_is_passed_on_as_finished(swallowing_stack: Stack) -> None:
    outcomes = {o.case: o for o in failover.stream_error(swallowing_stack)}
    broken = outcomes["gpt-4 / error-mid-stream"]
    assert not broken.passed and "passed as success" in broken.detail, broken.summary()


def test_fb9_fails_when_a_short_model_takes_the_long_prompt(stack: Stack) -> None:
    # the long-context model itself refuses too: the overflow then lands on gemini-2 (claude-3's chain's end)
    mock = stack.mock()
    assert mock is not None
    long_model = stack.target.upstream_model("claude-3")
    mock.set(long_model, context_window=1)
    try:
        outcomes = {o.case: o for o in failover.context_overflow(stack)}
    finally:
        mock.reset(long_model)
        mock.close()
    assert not outcomes["gpt-4"].passed and "answered by gemini-2" in outcomes["gpt-4"].detail, outcomes["gpt-4"]
