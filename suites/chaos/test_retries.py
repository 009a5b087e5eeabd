"""Retry discipline (RTY-1..RTY-4): each case of scenarios/retries/ on the first plan chain, judged on what
the providers saw. Part of every full chaos run and of `--scenario retry-discipline` (or a case's name);
the quick run leaves it out unless named."""

from collections.abc import Callable

import pytest

from harness.chaos import chains_to_test
from harness.chaos.attempts import RetryCase, load_retry_scenarios
from harness.checks.retries import run_case
from harness.results import Outcome
from harness.stack import Stack
from harness.target import REPO, TargetError

RETRIES = REPO / "scenarios" / "retries"


def _cases(config: pytest.Config) -> list[tuple[str, RetryCase]]:
    try:
        scenarios = load_retry_scenarios(RETRIES)
    except TargetError as exc:
        pytest.exit(f"scenario error: {exc}", returncode=2)
    only = set(config.getoption("scenario") or ())
    picked = []
    for scenario in scenarios:
        for case in scenario.cases:
            named = bool(only & {scenario.name, case.name})
            if named or (not only and not config.getoption("quick")):
                picked.append((scenario.name, case))
    return picked


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "retry_case" in metafunc.fixturenames:
        metafunc.parametrize("retry_case", [pytest.param(case, id=f"{name}[{case.name}]",
                                                         marks=[pytest.mark.criterion(*case.criteria),
                                                                # each attempt of 3 models' chain, and the probes
                                                                # that wait out a cooldown after the case
                                                                pytest.mark.spend(case.requests * 9 + 3)])
                                            for name, case in _cases(metafunc.config)])


def test_retries(retry_case: RetryCase, stack: Stack, record: Callable[[Outcome], Outcome]) -> None:
    chains = chains_to_test(stack.target)
    if not chains:
        pytest.fail("no fallback chain to run the retry cases on (plan.chains)")
    outcomes = [record(o) for o in run_case(stack, retry_case, tuple(chains[0]))]
    failed = [o.summary() for o in outcomes if not o.passed]
    assert not failed, "; ".join(failed)
