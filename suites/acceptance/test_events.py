"""Events, observer and git reconciliation (VPS plan slices 7-9): EV-1, EV-2, OBV-1..OBV-3, GIT-1..GIT-3.

The reference observer (stack/observer) runs against the stack's Redis with a truth repository and
a bare remote of its own, in the run folder (`events/`), where its log and audit log stay.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.checks import events
from harness.observer import ObserverRig
from harness.results import NotApplicable, Outcome
from harness.stack import Stack

Record = Callable[[Outcome], Outcome]
CHECKS: dict[str, Callable[[ObserverRig], Outcome]] = {
    "EV-1": events.on_stream, "EV-2": events.bad_events, "OBV-1": events.drift, "OBV-2": events.audit_log,
    "GIT-1": events.auto_commit, "GIT-2": events.approval_gate, "OBV-3": events.crash_safety,
    "GIT-3": events.history}


@pytest.fixture(scope="module")
def observer(stack: Stack, run_dir: Path) -> Iterator[ObserverRig | None]:
    if stack.target.redis_url is None or stack.provider == "external":
        yield None
        return
    rig = ObserverRig(stack.target.redis_url.get_secret_value(), run_dir / "events")
    rig.start()
    try:
        yield rig
    finally:
        rig.close()


@pytest.mark.parametrize("ident", [pytest.param(i, marks=pytest.mark.criterion(i), id=i) for i in CHECKS])
def test_events(ident: str, observer: ObserverRig | None, record: Record) -> None:
    if observer is None:
        raise NotApplicable("the event checks run the reference observer against the stack's own Redis "
                            "(embedded or containers stack)")
    outcome = record(CHECKS[ident](observer))
    assert outcome, outcome.summary()
