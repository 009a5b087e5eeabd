"""Gateway acceptance: GW-1..GW-5 (VPS plan slice 1, Fly.io smoke and cutover)."""

import pytest

from harness.pytest_plugin import Decide, criteria


@pytest.mark.parametrize("ident", criteria("GW-1", "GW-2", "GW-3", "GW-4", "GW-5"))
def test_gateway(ident: str, decide: Decide) -> None:
    decide(ident)
