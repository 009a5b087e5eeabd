"""Cache (CA-1..CA-4), cost audit (COST-1), trace completeness (OBS-4), credentials and secrets (SEC-1, OBS-5,
SEC-2).

The secrets checks run last in the file, after the other checks have written traces and logs.
"""

from collections.abc import Callable

import pytest

from harness.checks import audit, cache, observability, security
from harness.results import Outcome
from harness.stack import Stack

Record = Callable[[Outcome], Outcome]
CHECKS = {"CA-1": cache.exact_hit, "CA-2": cache.semantic_hits, "CA-3": cache.ttl,
          "CA-4": cache.team_isolation, "COST-1": audit.cost_audit,
          "OBS-4": observability.traces_complete, "SEC-1": security.default_credentials,
          "OBS-5": security.secrets_in_traces,
          "SEC-2": security.secrets_in_artifacts}


@pytest.mark.parametrize("ident", [pytest.param(i, marks=pytest.mark.criterion(i), id=i) for i in CHECKS])
def test_breadth(ident: str, stack: Stack, record: Record) -> None:
    outcome = record(CHECKS[ident](stack))
    assert outcome, outcome.summary()
