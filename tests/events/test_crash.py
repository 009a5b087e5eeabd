"""The crash scenario, 20 rounds: the reference observer SIGKILLed at random points while a bounded
stream of events flows; every round must end with each event logged and committed exactly once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.checks import events
from harness.observer import ObserverRig


@pytest.mark.parametrize("seed", range(20))
def test_no_event_lost_or_repeated_across_sigkills(rig_factory: Callable[..., ObserverRig], seed: int) -> None:
    rig = rig_factory()
    outcome = events.crash_safety(rig, events=40, kills=3, seed=seed)
    assert outcome, outcome.summary()
    assert events.history(rig), "a redelivered event was processed twice"


@pytest.mark.parametrize("seed", range(5))
def test_batched_commits_survive_sigkills_too(rig_factory: Callable[..., ObserverRig], seed: int) -> None:
    rig = rig_factory("--batch")
    outcome = events.crash_safety(rig, events=40, kills=3, seed=100 + seed)
    assert outcome, outcome.summary()
    assert events.history(rig), "a redelivered event was processed twice"
