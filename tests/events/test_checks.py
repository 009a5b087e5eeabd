"""The event checks PASS on the reference observer and FAIL on the variants the plan's sketch would be:
an observer that acks before applying, one without idempotency, a publisher without validation, and one
broken variant per remaining check (the observer's `--fault`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from harness.checks import events
from harness.observer import ObserverRig, make_event
from harness.results import NotApplicable

Rig = Callable[..., ObserverRig]


def test_every_check_passes_on_the_reference_observer(rig_factory: Rig) -> None:
    rig = rig_factory()
    outcomes = [events.on_stream(rig), events.bad_events(rig), events.drift(rig), events.audit_log(rig),
                events.auto_commit(rig), events.approval_gate(rig, hold_s=1.0), events.crash_safety(rig, seed=1),
                events.history(rig)]
    assert all(outcomes), [o.summary() for o in outcomes if not o]


def test_ev2_fails_when_the_publisher_does_not_validate(rig_factory: Rig) -> None:
    outcome = events.bad_events(rig_factory(start=False), validate=False)
    assert not outcome.passed and outcome.measured["written"] >= 5


@pytest.mark.parametrize("seed", range(2))
def test_obv3_fails_when_the_observer_acks_before_applying(rig_factory: Rig, seed: int) -> None:
    # each kill waits for the observer to be working on a burst (the group shows it), so it lands between an
    # ack and a commit; before that gate, 16 kills were needed (once in CI none of 8 landed)
    outcome = events.crash_safety(rig_factory("--ack-first"), events=60, kills=8, seed=seed)
    assert not outcome.passed and outcome.measured["lost"] + outcome.measured["not_committed"] > 0, outcome.summary()


def test_obv3_gives_no_verdict_when_every_kill_lands_after_the_work_is_done(rig_factory: Rig) -> None:
    """A kill that only lands once the observer has acknowledged everything it read (as a slow `docker kill`
    can) exercises nothing: an acks-first observer then loses nothing, and that is not a PASS."""
    rig = rig_factory("--ack-first")
    kill = rig.kill

    def late_kill() -> None:
        assert rig.drained(15)
        kill()

    rig.kill = late_kill  # type: ignore[method-assign]
    with pytest.raises(NotApplicable, match="none while the observer held entries it had read"):
        events.crash_safety(rig, events=20, kills=2, seed=3, burst=5, attempts=2)


def test_git3_fails_when_the_observer_is_not_idempotent(rig_factory: Rig) -> None:
    rig = rig_factory("--no-idempotency")
    events.crash_safety(rig, events=60, kills=8, seed=7)
    outcome = events.history(rig)
    assert not outcome.passed, outcome.summary()


def test_commits_reach_the_remote_once_it_is_back(rig_factory: Rig) -> None:
    """The git remote unreachable: commits stay local (nothing lost, the stream still drains), and the
    next push after it returns carries them all."""
    rig = rig_factory()
    hidden = rig.remote.with_name("remote-away.git")
    rig.remote.rename(hidden)
    sent = [make_event("project:offline", i) for i in range(5)]
    for event in sent:
        rig.publish(event)
    assert rig.drained(15)
    assert [c["event_id"] for c in rig.commits()] == [e["event_id"] for e in sent]
    hidden.rename(rig.remote)
    rig.publish(make_event("project:offline", 5))
    assert rig.drained(15)
    deadline = time.monotonic() + 15
    while len(rig.commits("remote")) < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(rig.commits("remote")) == 6


def test_ev1_fails_when_the_publisher_writes_to_another_stream(rig_factory: Rig) -> None:
    outcome = events.on_stream(rig_factory(start=False, publisher_stream="agent-events"))
    assert not outcome.passed and outcome.measured["present"] is False, outcome.summary()


def test_obv1_fails_when_the_observer_applies_stale_events(rig_factory: Rig) -> None:
    outcome = events.drift(rig_factory("--fault", "apply-stale"))
    assert not outcome.passed and outcome.measured["applied"] is True, outcome.summary()


def test_obv2_fails_when_the_observer_rewrites_its_audit_log(rig_factory: Rig) -> None:
    rig = rig_factory("--fault", "rewrite-audit")
    events.on_stream(rig)  # an earlier line for the rewrite to change
    assert rig.drained(10)
    outcome = events.audit_log(rig, count=5)
    assert not outcome.passed and outcome.measured["earlier_lines_unchanged"] is False, outcome.summary()


@pytest.mark.parametrize(("fault", "measured"), [("foreign-identity", {"commits_on_remote": 1,
                                                                       "author": "root@localhost"}),
                                                 ("no-push", {"commits_on_remote": 0, "author": None})])
def test_git1_fails_when_commits_are_not_the_observers_on_the_remote(rig_factory: Rig, fault: str,
                                                                      measured: dict[str, object]) -> None:
    outcome = events.auto_commit(rig_factory("--fault", fault), timeout_s=4.0)
    assert not outcome.passed and outcome.measured == measured, outcome.summary()


def test_git2_fails_when_the_observer_ignores_the_approval_flag(rig_factory: Rig) -> None:
    outcome = events.approval_gate(rig_factory("--fault", "ignore-approval"), hold_s=1.0, timeout_s=2.0)
    assert not outcome.passed and outcome.measured["applied_before_approval"] is True, outcome.summary()
