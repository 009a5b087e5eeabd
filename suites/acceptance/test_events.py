"""Events, observer and git reconciliation (VPS plan slices 7-9): EV-1, EV-2, OBV-1..OBV-3, GIT-1..GIT-3.

On a stack the harness started, the reference observer (stack/observer) runs against the stack's Redis
with a truth repository and a bare remote of its own, in the run folder (`events/`). On a deployment
whose target has an `events:` section, the checks judge the deployment's own observer through its
stream and truth remote (`events-user/` holds the harness's mirror of that remote).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import registry
from harness.observer import ObserverRig
from harness.pipeline import UserPipeline
from harness.pytest_plugin import Decide, criteria
from harness.stack import Stack

IDS = ("EV-1", "EV-2", "OBV-1", "OBV-2", "GIT-1", "GIT-2", "OBV-3", "GIT-3")


@pytest.fixture(scope="module")
def observer(stack: Stack, run_dir: Path) -> Iterator[ObserverRig | None]:
    # where the deployment has an observer of its own (its `events:`), that one is judged, not the reference
    if stack.target.redis_url is None or stack.target.events is not None or \
            stack.lacks(registry.rig_needs("observer")):
        yield None
        return
    rig = ObserverRig(stack.target.redis_url.get_secret_value(), run_dir / "events")
    rig.start()
    try:
        yield rig
    finally:
        rig.close()


@pytest.fixture(scope="module")
def pipeline(stack: Stack, run_dir: Path) -> Iterator[UserPipeline | None]:
    if stack.target.events is None or stack.lacks(registry.rig_needs("pipeline")):
        yield None
        return
    rig = UserPipeline(stack.target.events, run_dir / "events-user", control=stack.control)
    try:
        yield rig
    finally:
        rig.close()


@pytest.mark.parametrize("ident", criteria(*IDS))
def test_events(ident: str, observer: ObserverRig | None, pipeline: UserPipeline | None, decide: Decide) -> None:
    decide(ident, observer=observer, pipeline=pipeline)
