"""Chaos: every scenario in `scenarios/`, for each fallback chain of the target and each variant.

The cases are data (scenarios/*.yaml); this file only turns each into a test whose records carry
the scenario's criterion IDs (FB-1..FB-7, CA-5) and its timeline.
"""

from collections.abc import Callable

import pytest

from harness.chaos import Case, FaultUnavailable, available, chains_configured, expand, load_scenarios, run_case
from harness.results import NotApplicable, Outcome
from harness.stack import Stack
from harness.target import REPO, Target, TargetError, load_target

SCENARIOS = REPO / "scenarios"


def _target(config: pytest.Config) -> Target:
    path = config.getoption("target")
    try:
        return load_target(path) if path else Target.embedded()
    except TargetError as exc:
        pytest.exit(f"target error: {exc}", returncode=2)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    config = metafunc.config
    try:
        scenarios = load_scenarios(SCENARIOS)
    except TargetError as exc:
        pytest.exit(f"scenario error: {exc}", returncode=2)
    cases = expand(scenarios, _target(config), quick=config.getoption("quick"), only=config.getoption("scenario"))
    metafunc.parametrize("case", [
        pytest.param(case, id=case.id,
                     marks=pytest.mark.criterion(*dict.fromkeys(c for p in case.scenario.method for c in p.criteria),
                                                 *(case.scenario.recovery.criteria if case.scenario.recovery else [])))
        for case in cases])


@pytest.mark.criterion("FB-1")
@pytest.mark.spend(0)  # reads the config
def test_chains_as_planned(stack: Stack, record: Callable[[Outcome], Outcome]) -> None:
    """Each plan chain is in the config under test, as the plan has it (the probes then show what the
    gateway does with it); a config without fallbacks FAILs here, naming each missing chain."""
    outcomes = [record(o) for o in chains_configured(stack.target)]
    assert all(outcomes), "; ".join(o.summary() for o in outcomes if not o)


def test_scenario(case: Case, stack: Stack, record: Callable[[Outcome], Outcome]) -> None:
    # a fault this stack cannot take is not observed, not failed: a SKIP naming the field that gives it,
    # which leaves the criterion to the cases that did run (the coverage line says what was verified)
    reason = available(stack)
    if reason:
        raise NotApplicable(reason)
    try:
        run = run_case(stack, case)
    except FaultUnavailable as exc:
        raise NotApplicable(str(exc)) from None
    for outcome in run.outcomes:
        record(outcome)
    failed = [o.summary() for o in run.outcomes if not o.passed]
    assert not failed, "; ".join(failed)
