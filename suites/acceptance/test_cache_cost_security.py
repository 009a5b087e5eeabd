"""Cache (CA-1..CA-4), cost audit (COST-1), trace completeness (OBS-4), credentials and secrets (SEC-1, OBS-5,
SEC-2).

The secrets checks run last in the file, after the other checks have written traces and logs.
"""

import pytest

from harness.pytest_plugin import Decide, criteria


@pytest.mark.parametrize("ident", criteria("CA-1", "CA-2", "CA-3", "CA-4", "COST-1", "OBS-4", "SEC-1", "OBS-5",
                                           "SEC-2"))
def test_breadth(ident: str, decide: Decide) -> None:
    decide(ident)
