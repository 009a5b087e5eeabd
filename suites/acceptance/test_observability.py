"""Observability acceptance: OBS-1..OBS-3 (VPS plan slice 2)."""

import pytest

from harness.pytest_plugin import Decide, criteria


@pytest.mark.parametrize("ident", criteria("OBS-1", "OBS-2", "OBS-3"))
def test_observability(ident: str, decide: Decide) -> None:
    decide(ident)
