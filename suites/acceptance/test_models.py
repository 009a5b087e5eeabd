"""Models and escalation: MOD-1..MOD-5 (VPS plan slice 3) and ESC-1 (Fly.io plan failover)."""

from collections.abc import Callable

import pytest

from harness.checks import models
from harness.results import Outcome
from harness.stack import Stack

Record = Callable[[Outcome], Outcome]
CHECKS = {"MOD-1": models.all_models_valid, "MOD-2": models.traces_per_model, "MOD-3": models.cost_ordering,
          "MOD-4": models.cheap_model_caps, "MOD-5": models.long_context_whole, "ESC-1": models.escalation}


@pytest.mark.parametrize("ident", [pytest.param(i, marks=pytest.mark.criterion(i), id=i) for i in CHECKS])
def test_models(ident: str, stack: Stack, record: Record) -> None:
    outcome = record(CHECKS[ident](stack))
    assert outcome, outcome.summary()
