"""The plan is the reference: its defaults are the seed plans, the config under test is compared with it,
and a target's plan section that differs from the seeds is reported as a deviation."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.chaos import chains_configured, chains_to_test, expand, load_scenarios
from harness.results import Record, RunResults
from harness.target import REFERENCE_CONFIG, REPO, Plan, Target, load_target
from tests.conftest import reference_config


def _no_fallbacks(config: dict) -> None:
    config["router_settings"].pop("fallbacks")


def test_the_default_plan_is_the_seeds_and_has_no_deviation() -> None:
    plan = Target.embedded().plan
    assert plan.chain("gpt-4") == ["gpt-4", "claude-3", "gemini-2"]
    assert plan.cache_ttl_s == 86_400 and plan.teams["customer"].rpm == 100 and plan.budget.monthly_usd == 50
    assert plan.deviations() == []


def test_a_plan_that_differs_from_the_seeds_lists_each_deviation() -> None:
    plan = Plan.model_validate({"cache_ttl_s": 3600, "chains": {"gpt-4": ["gemini-2"]},
                                "teams": {"customer": {"rpm": 50, "tpm": 200000, "daily_usd": 50}}})
    lines = plan.deviations()
    assert "plan.cache_ttl_s: 3600 (seed plan: 86400)" in lines
    assert "plan.chains.gpt-4: gemini-2 (seed plan: claude-3 -> gemini-2)" in lines
    assert "plan.chains.claude-3: not set (seed plan: gpt-4 -> gemini-2)" in lines
    assert any(line.startswith("plan.teams.customer: rpm 50") for line in lines)


def test_a_config_without_fallbacks_fails_fb1_naming_each_missing_chain(tmp_path: Path) -> None:
    target = Target.embedded(reference_config(tmp_path, _no_fallbacks))
    assert target.fallbacks == {}
    outcomes = chains_configured(target)
    assert len(outcomes) == 3 and not any(outcomes)
    assert outcomes[0].detail == "no fallback chain configured for gpt-4 (the plan requires gpt-4 -> claude-3 -> " \
                                 "gemini-2)"
    # the chaos cases still run on the plan's chains: the probe shows what the gateway really does
    cases = expand(load_scenarios(REPO / "scenarios"), target, quick=True)
    assert cases and cases[0].chain == ("gpt-4", "claude-3", "gemini-2")
    assert chains_to_test(target)[0] == ("gpt-4", "claude-3", "gemini-2")


def test_a_chain_the_plan_section_states_passes_and_is_a_deviation(tmp_path: Path) -> None:
    def other_chain(config: dict) -> None:
        config["router_settings"]["fallbacks"] = [{"gpt-4": ["gemini-2"]}]

    target = Target.embedded(reference_config(tmp_path, other_chain))
    seed = chains_configured(target)
    assert seed[0].detail == "the config's chain is gpt-4 -> gemini-2; the plan requires gpt-4 -> claude-3 -> gemini-2"
    stated = target.model_copy(update={"plan": Plan(chains={"gpt-4": ["gemini-2"]})})
    assert all(chains_configured(stated)) and len(chains_configured(stated)) == 1
    assert "plan.chains.gpt-4: gemini-2 (seed plan: claude-3 -> gemini-2)" in stated.plan.deviations()


def test_a_target_listing_models_by_name_keeps_the_configs_deployments(tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump({"provider": "external", "gateway": {"url": "http://127.0.0.1:9"},
                                    "litellm_config": str(REFERENCE_CONFIG),
                                    "models": [{"name": "gpt-4"}, {"name": "claude-3"}, {"name": "gemini-2"}]}))
    target = load_target(path)
    # the same models, deployments and modes as the embedded target: so the same verdicts
    assert target.models == Target.embedded().models
    assert target.aliases()["openai/gpt-4-turbo"] == "gpt-4"


def test_a_model_the_config_lacks_stays_and_an_explicit_deployment_wins(tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump({"provider": "external", "gateway": {"url": "http://127.0.0.1:9"},
                                    "litellm_config": str(REFERENCE_CONFIG),
                                    "models": [{"name": "gpt-4", "deployment": "azure/gpt-4"},
                                               {"name": "not-in-config"}]}))
    models = {m.name: m for m in load_target(path).models}
    assert models["gpt-4"].deployment == "azure/gpt-4" and "not-in-config" in models
    assert models["claude-3"].deployment  # the rest of the config's models are kept


def test_a_no_go_names_its_reasons_and_a_go_says_how_much_it_verified() -> None:
    def rec(ident: str, status: str, blocking: bool = True, detail: str = "") -> Record:
        return Record(id=ident, title="t", source="s", status=status, blocking=blocking, detail=detail)  # type: ignore[arg-type]

    go = RunResults(run_id="r", started="now", records=[rec("GW-1", "PASS"), rec("CA-2", "SKIP", False, "n/a")])
    assert go.verdict == "GO" and go.reasons() == []
    assert go.coverage() == "1 of 2 criteria verified; not observed: CA-2"
    no_go = RunResults(run_id="r", started="now", records=[rec("GW-1", "PASS"), rec("FB-1", "FAIL", detail="no chain"),
                                                         rec("FB-5", "SKIP", True, "no fault proxy")])
    assert no_go.verdict == "NO-GO" and no_go.reasons() == ["FB-1 FAIL: no chain", "FB-5 SKIP: no fault proxy"]
    assert RunResults(run_id="r", started="now").reasons() == ["nothing was verified: no criterion passed"]
