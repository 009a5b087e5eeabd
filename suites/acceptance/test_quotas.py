"""Team keys: QT-1..QT-4 (Fly.io plan quotas and daily budgets), SEC-3 (a key's model scope), BUD-1."""

from collections.abc import Callable

import pytest

from harness.checks import budget, quotas
from harness.results import Outcome
from harness.stack import Stack

Record = Callable[[Outcome], Outcome]
CHECKS = {"QT-1": quotas.rpm_limit, "QT-2": quotas.tpm_limit, "QT-3": quotas.daily_budget, "QT-4": quotas.isolation,
          "SEC-3": quotas.model_scope}


@pytest.mark.parametrize("ident", [pytest.param(i, marks=pytest.mark.criterion(i), id=i) for i in CHECKS])
def test_quotas(ident: str, stack: Stack, record: Record) -> None:
    outcome = record(CHECKS[ident](stack))
    assert outcome, outcome.summary()


@pytest.mark.criterion("BUD-1")
def test_proxy_budget(stack: Stack, record: Record) -> None:
    """Runs last in this module: it drives the proxy to its cap, then restores the month's counter."""
    outcome = record(budget.proxy_budget(stack))
    assert outcome, outcome.summary()
