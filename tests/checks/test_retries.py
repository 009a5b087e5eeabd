"""RTY-1..RTY-4 against a gateway double in front of the mock: a polite client passes every retry case;
one that retries instantly, retries a 400, never stops or answers a bare 500 fails the criterion it breaks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from harness._http import App
from harness.chaos.attempts import RetryCase, load_retry_scenarios
from harness.checks.retries import run_case
from harness.results import Outcome
from harness.stack import Stack
from harness.standins.mockllm.server import create_app
from harness.target import REPO, Endpoint, Target
from tests.retry_double import CHAIN, Kind, Policy, double_config, retry_double

CASES = {case.name: case for s in load_retry_scenarios(REPO / "scenarios" / "retries") for case in s.cases}
Run = Callable[[Kind, str], list[Outcome]]


@pytest.fixture
def against(serve_app: Callable[[App], str], tmp_path: Path) -> Run:
    """Runs one retry case (by name) against a fresh mock behind a double with the given policy."""
    def run(kind: Kind, name: str) -> list[Outcome]:
        mock_url = serve_app(create_app())
        gateway = serve_app(retry_double(mock_url, Policy(kind)))
        target = Target(provider="external", gateway=Endpoint(url=gateway, master_key=SecretStr("sk-harness")),
                        mock_url=mock_url).with_litellm_config(double_config(tmp_path, num_retries=2))
        case: RetryCase = CASES[name]
        return run_case(Stack.over(target), case, CHAIN)
    return run


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_polite_client_passes_every_retry_case(against: Run, name: str) -> None:
    outcomes = against("polite", name)
    assert outcomes and all(outcomes), [o.summary() for o in outcomes]


def test_retries_that_ignore_retry_after_fail_rty1(against: Run) -> None:
    [outcome] = against("instant", "rate-limited-429")
    assert not outcome.passed and outcome.measured["early"] == 2, outcome.summary()
    assert outcome.evidence["requests"][0]["attempts"][0]["retry_after_s"] == 1  # the timeline the report shows


def test_a_client_that_retries_a_400_fails_rty2(against: Run) -> None:
    [outcome] = against("retries-4xx", "bad-request-400")
    assert not outcome.passed and outcome.measured["attempts_on_deployment"] == 3, outcome.summary()


def test_unbounded_retries_fail_rty3(against: Run) -> None:
    [rty3] = against("unbounded", "total-outage-503")
    assert not rty3.passed and rty3.measured["attempts"] > rty3.measured["bound"] == 9, rty3.summary()


def test_instant_retries_under_an_outage_fail_rty3(against: Run) -> None:
    [rty3] = against("instant", "total-outage-503")
    assert not rty3.passed and rty3.measured["min_gap_s"] < 0.1, rty3.summary()


def test_a_bare_500_when_every_deployment_cools_down_fails_rty4(against: Run) -> None:
    [rty4] = against("bare-500", "cooled-down-503")
    assert not rty4.passed and rty4.measured["status"] == 500, rty4.summary()


def test_a_success_no_provider_gave_fails_rty2(against: Run) -> None:
    [outcome] = against("empty-200", "unprocessable-422")
    assert not outcome.passed and "no provider answered" in outcome.detail, outcome.summary()
