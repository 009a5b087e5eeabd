"""Negative controls for "the plan is the reference": a stack whose config and keys file deviate from the seed
plans FAILs the criteria they break, each against the plan's value; with the target's plan section stating
the same deviations, each PASSes, and the run reports them as deviations from the seed plans."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.chaos import chains_configured, expand, load_scenarios, run_case
from harness.checks import cache, quotas
from harness.results import RunResults
from harness.stack import Stack
from harness.target import REFERENCE_CONFIG, REPO, Plan, PlanTeam, Target
from tests.conftest import reference_config, start_stack

_TTL = 10_000_000


def _deviant(config: dict[str, Any]) -> None:
    config["router_settings"]["fallbacks"] = [{"gpt-4": ["gemini-2"]}]  # one chain, not the plan's three
    config["litellm_settings"]["cache_params"]["ttl"] = _TTL  # the Fly.io plan says one day


@pytest.fixture(scope="module")
def deviant_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("deviant")
    config = reference_config(tmp, _deviant)
    teams = yaml.safe_load((REFERENCE_CONFIG.parent / "teams.yaml").read_text())
    for entry in teams["keys"]:
        if entry["team"] == "customer":
            entry["rpm"] = 40  # the plan: 100 (5 and 2 at the embedded quota_scale 0.05)
        if entry["team"] == "ceo":
            entry["rpm"] = 30  # the plan: 60 (3 and 2); a key of its own for the stated case, as a burst
            # spends its key's minute
    (config.parent / "teams.yaml").write_text(yaml.safe_dump(teams, sort_keys=False))
    yield from start_stack(tmp, Target.embedded(config))


def _stating(stack: Stack, **plan: Any) -> Stack:
    """The same stack, verified against a target whose plan section states `plan`."""
    stated = stack.target.plan.model_copy(update=plan)
    return replace(stack, target=stack.target.model_copy(update={"plan": stated}))


def test_ca3_fails_against_the_plans_ttl_and_passes_when_the_plan_states_it(deviant_stack: Stack) -> None:
    seed = cache.ttl(deviant_stack)
    assert not seed.passed and f"the config sets ttl {_TTL} s; the plan requires 86400 s" in seed.detail
    assert seed.threshold == 86_400 and seed.measured is not None and seed.measured > 86_400
    stated = cache.ttl(_stating(deviant_stack, cache_ttl_s=_TTL))
    assert stated.passed, stated.summary()


def test_qt1_fails_against_the_plans_rpm_and_passes_when_the_plan_states_it(deviant_stack: Stack) -> None:
    seed = quotas.rpm_limit(deviant_stack)
    assert not seed.passed and seed.measured == 3 and seed.threshold == 6, seed.summary()
    assert "the key is configured with rpm 2, the plan says 5" in seed.detail
    teams = {**deviant_stack.target.plan.teams, "ceo": PlanTeam(rpm=30, tpm=120_000, daily_usd=25)}
    stated = _stating(deviant_stack, teams=teams)
    outcome = quotas.rpm_limit(stated, team_name="ceo")
    assert outcome.passed, outcome.summary()
    assert "plan.teams.ceo: rpm 30, tpm 120000, daily_usd 25 (seed plan: rpm 60, tpm 120000, daily_usd 25)" \
        in stated.target.plan.deviations()


def test_fb1_fails_on_the_config_and_on_the_gateway_and_passes_when_the_plan_states_the_chain(
        deviant_stack: Stack) -> None:
    seed = chains_configured(deviant_stack.target)
    assert [o.passed for o in seed] == [False, False, False]
    assert seed[1].detail == "no fallback chain configured for claude-3 (the plan requires claude-3 -> gpt-4 -> " \
                             "gemini-2)"
    # the gateway itself: with its primary refused it answers from gemini-2, where the plan says claude-3
    case = next(c for c in expand(load_scenarios(REPO / "scenarios"), deviant_stack.target, quick=True,
                                  only="primary-failure") if c.chain[0] == "gpt-4")
    fb1 = [o for o in run_case(deviant_stack, case).outcomes if o.id == "FB-1"]
    assert fb1 and not any(fb1), [o.summary() for o in fb1]
    stated = _stating(deviant_stack, chains={"gpt-4": ["gemini-2"]})
    assert all(chains_configured(stated.target))
    case = next(c for c in expand(load_scenarios(REPO / "scenarios"), stated.target, quick=True,
                                  only="primary-failure") if c.chain[0] == "gpt-4")
    fb1 = [o for o in run_case(stated, case).outcomes if o.id == "FB-1"]
    assert fb1 and all(fb1), [o.summary() for o in fb1]


def test_the_report_shows_the_deviations(tmp_path: Path) -> None:
    from harness.report import build_report
    from harness.results import Record

    results = RunResults(run_id="r", started="now", deviations=Plan(cache_ttl_s=3600).deviations(),
                         records=[Record(id="CA-3", title="t", source="002", status="PASS")])
    results.write(tmp_path)
    html = build_report(tmp_path).read_text()
    assert 'id="deviations"' in html and "plan.cache_ttl_s: 3600 (seed plan: 86400)" in html
