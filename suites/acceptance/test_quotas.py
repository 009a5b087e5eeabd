"""Team keys: QT-1..QT-4 (Fly.io plan quotas and daily budgets) and SEC-3 (a key's model scope)."""

from collections.abc import Callable

import pytest

from harness.checks import quotas
from harness.results import Outcome
from harness.stack import Stack

Record = Callable[[Outcome], Outcome]
CHECKS = {"QT-1": quotas.rpm_limit, "QT-2": quotas.tpm_limit, "QT-3": quotas.daily_budget, "QT-4": quotas.isolation,
          "SEC-3": quotas.model_scope}


@pytest.mark.parametrize("ident", [pytest.param(i, marks=pytest.mark.criterion(i), id=i) for i in CHECKS])
def test_quotas(ident: str, stack: Stack, record: Record) -> None:
    outcome = record(CHECKS[ident](stack))
    assert outcome, outcome.summary()
