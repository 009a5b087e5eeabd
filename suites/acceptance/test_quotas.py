"""Team keys: QT-1..QT-4 (Fly.io plan quotas and daily budgets), SEC-3 (a key's model scope), BUD-1.

BUD-1 runs last in this module: it drives the proxy to its cap, then restores the month's counter."""

import pytest

from harness.pytest_plugin import Decide, criteria


@pytest.mark.parametrize("ident", criteria("QT-1", "QT-2", "QT-3", "QT-4", "SEC-3", "BUD-1"))
def test_quotas(ident: str, decide: Decide) -> None:
    decide(ident)
