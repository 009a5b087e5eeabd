"""Observability acceptance: OBS-1..OBS-3 (VPS plan slice 2)."""

from collections.abc import Callable

import pytest

from harness.checks import observability
from harness.results import Outcome
from harness.stack import Stack

Record = Callable[[Outcome], Outcome]


@pytest.mark.criterion("OBS-1")
def test_obs_1_trace_appears(stack: Stack, record: Record) -> None:
    outcome = record(observability.trace_appears(stack))
    assert outcome, outcome.summary()


@pytest.mark.criterion("OBS-2")
def test_obs_2_trace_content(stack: Stack, record: Record) -> None:
    outcome = record(observability.trace_content(stack))
    assert outcome, outcome.summary()


@pytest.mark.criterion("OBS-3")
def test_obs_3_session_propagated(stack: Stack, record: Record) -> None:
    outcome = record(observability.session_propagated(stack))
    assert outcome, outcome.summary()
