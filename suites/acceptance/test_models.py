"""Models and escalation: MOD-1..MOD-5 (VPS plan slice 3) and ESC-1 (Fly.io plan failover)."""

import pytest

from harness.pytest_plugin import Decide, criteria


@pytest.mark.parametrize("ident", criteria("MOD-1", "MOD-2", "MOD-3", "MOD-4", "MOD-5", "ESC-1"))
def test_models(ident: str, decide: Decide) -> None:
    decide(ident)
