"""Negative controls for the acceptance breadth checks (models, escalation, quotas, cache, cost,
trace completeness, secrets): each FAILs on a stack broken the way real deployments break."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness._http import App
from harness.checks import audit, budget, cache, models, observability, quotas, security
from harness.providers.local import LocalProvider
from harness.stack import Stack
from harness.standins import alerts
from harness.standins.mockllm import MockControl
from harness.target import Target
from tests.conftest import reference_config, start_stack

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _leaky(config: dict[str, Any]) -> None:
    for model in config["model_list"]:
        if model["model_name"] == "gemini-2":  # an alias silently pointed at the expensive model
            model["litellm_params"] = {**model["litellm_params"], "model": "openai/gpt-4-turbo",
                                       "api_base": "os.environ/OPENAI_API_BASE",
                                       "api_key": "os.environ/OPENAI_API_KEY"}
            model["litellm_params"].pop("input_cost_per_token")
            model["litellm_params"].pop("output_cost_per_token")
    settings = config["litellm_settings"]
    settings["callbacks"] = ["leaky.handler"]  # and no escalation hook
    settings.pop("failure_callback")
    settings.pop("cache")
    settings.pop("cache_params")


@pytest.fixture(scope="module")
def leaky_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("leaky")
    config = reference_config(tmp, _leaky)
    shutil.copy(FIXTURES / "leaky.py", config.parent)
    shutil.copy(FIXTURES / "teams_unlimited.yaml", config.parent / "teams.yaml")
    yield from start_stack(tmp, Target.embedded().model_copy(update={"litellm_config": config}))


@pytest.fixture(scope="module")
def default_key_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The reference stack on the master key LiteLLM's docs use in every example, without the team
    cache namespaces and without the daily spend counter."""
    tmp = tmp_path_factory.mktemp("default-key")

    def shared_cache(config: dict[str, Any]) -> None:
        config["litellm_settings"]["callbacks"] = ["escalation.handler"]

    target = Target.embedded().model_copy(update={"litellm_config": reference_config(tmp, shared_cache)})
    provider = LocalProvider(target, tmp / "run", postgres=False, master_key="sk-1234")
    try:
        yield provider.start()
    finally:
        provider.stop()


def test_mod1_fails_when_a_model_is_rate_limited(stack: Stack, mock: MockControl) -> None:
    mock.set("gpt-4o", status=429, retry_after_s=1)
    outcome = models.all_models_valid(stack)
    assert not outcome.passed and outcome.measured["gpt-4o"] == 429


def test_mod2_mod3_and_cost_audit_fail_when_an_alias_points_elsewhere(leaky_stack: Stack) -> None:
    mod2 = models.traces_per_model(leaky_stack)
    assert not mod2.passed and mod2.measured["gemini-2"] == "openai/gpt-4-turbo"
    mod3 = models.cost_ordering(leaky_stack)
    assert not mod3.passed
    cost = audit.cost_audit(leaky_stack)
    assert not cost.passed and "gemini-2 call" in cost.detail and "gpt-4 call" not in cost.detail


def test_mod4_fails_when_the_cheap_model_is_slow(stack: Stack, mock: MockControl) -> None:
    mock.set("gemini-2.0-flash-exp", latency_ms=600)
    outcome = models.cheap_model_caps(stack)
    assert not outcome.passed and outcome.measured["seconds"] >= 0.5


def test_mod5_fails_when_the_gateway_cuts_long_inputs(leaky_stack: Stack) -> None:
    outcome = models.long_context_whole(leaky_stack)
    assert not outcome.passed and outcome.measured <= 5_100


def test_esc1_fails_without_the_escalation_hook(leaky_stack: Stack) -> None:
    outcome = models.escalation(leaky_stack)
    assert not outcome.passed and outcome.measured["above"] == "gpt-4o-mini"


def test_qt1_fails_when_the_key_has_no_limit(leaky_stack: Stack) -> None:
    outcome = quotas.rpm_limit(leaky_stack)
    assert not outcome.passed and "no rpm limit" in outcome.detail


def test_qt1_fails_when_the_limit_is_not_enforced(leaky_stack: Stack) -> None:
    """The target says 5 rpm; the gateway's keys file has none: the burst finds no 429."""
    declared = leaky_stack.target.model_copy(update={"teams": [
        t.model_copy(update={"rpm": 5}) if t.team == "customer" else t for t in leaky_stack.target.teams]})
    outcome = quotas.rpm_limit(Stack(**{**leaky_stack.__dict__, "target": declared}))
    assert not outcome.passed and outcome.measured is None and "no 429 after 6 calls" in outcome.detail


def test_qt2_fails_without_a_token_limit(leaky_stack: Stack) -> None:
    outcome = quotas.tpm_limit(leaky_stack)
    assert not outcome.passed and "no tpm limit" in outcome.detail


def test_qt4_fails_when_two_teams_share_a_key(leaky_stack: Stack) -> None:
    # the shared key carries admin's (absent) limits, so ceo's limit is never reached either
    outcome = quotas.isolation(leaky_stack)
    assert not outcome.passed and "could not drive ceo to its limit" in outcome.detail


def test_sec3_fails_without_a_model_scoped_key(leaky_stack: Stack) -> None:
    assert not quotas.model_scope(leaky_stack).passed


def test_ca1_and_ca3_fail_with_the_cache_off(leaky_stack: Stack) -> None:
    hit = cache.exact_hit(leaky_stack)
    assert not hit.passed and hit.evidence["upstream_calls"] == 6  # the first call and each of the 5 repeats
    ttl = cache.ttl(leaky_stack)
    assert not ttl.passed and "no TTL readable" in ttl.detail


def test_obs4_fails_when_failures_are_not_traced(leaky_stack: Stack) -> None:
    outcome = observability.traces_complete(leaky_stack)
    assert not outcome.passed and outcome.measured == 5


def test_obs5_and_sec2_fail_when_the_key_leaks(leaky_stack: Stack) -> None:
    models.cheap_model_caps(leaky_stack)  # one call through the leaky hook
    traces = security.secrets_in_traces(leaky_stack)
    assert not traces.passed and "master key in trace" in traces.detail
    logs = security.secrets_in_artifacts(leaky_stack)
    assert not logs.passed and "master key in litellm.log:" in logs.detail
    assert "sk-master" not in logs.detail and "sk-master" not in traces.detail


def test_sec1_fails_on_the_documented_example_master_key(default_key_stack: Stack) -> None:
    outcome = security.default_credentials(default_key_stack)
    assert not outcome.passed and "API key 'sk-1234'" in outcome.detail
    assert "UI login admin/******* (HTTP 400)" in outcome.detail and outcome.measured == 2


def test_qt3_fails_when_spend_is_not_counted(default_key_stack: Stack) -> None:
    """Without the spend counter (budgets.py) a key runs past its daily limit."""
    outcome = quotas.daily_budget(default_key_stack)
    assert not outcome.passed and outcome.measured["status"] == 200
    assert outcome.measured["spent_usd"] > default_key_stack.target.team("qa").daily_usd


def test_bud1_fails_when_proxy_spend_is_not_counted(default_key_stack: Stack) -> None:
    """Without the spend counter nothing warns and nothing stops the proxy at its monthly cap."""
    outcome = budget.proxy_budget(default_key_stack)
    assert not outcome.passed and outcome.measured["status"] == 200 and outcome.measured["refused_at_usd"] is None
    assert "no warning notification" in outcome.detail and "no refusal" in outcome.detail


def test_bud1_fails_when_the_warning_never_arrives(stack: Stack, serve_app: Callable[[App], str]) -> None:
    """The cap holds, but the warning goes to a sink nobody reads: the alert half alone FAILs the check."""
    silent = replace(stack, target=stack.target.model_copy(update={"alerts_url": serve_app(alerts.create_app())}))
    outcome = budget.proxy_budget(silent)
    assert not outcome.passed and outcome.measured["status"] == 400
    assert outcome.detail.startswith("no warning notification"), outcome.detail


def test_ca4_fails_when_teams_share_the_cache(default_key_stack: Stack) -> None:
    outcome = cache.team_isolation(default_key_stack)
    assert not outcome.passed and outcome.measured["cross_team_hit"]
    assert "analytics was answered from background's cache entry" in outcome.detail


def test_the_reference_stack_passes_them_all(stack: Stack) -> None:
    for check in (models.all_models_valid, models.traces_per_model, models.cost_ordering, models.cheap_model_caps,
                  models.long_context_whole, models.escalation, quotas.rpm_limit, quotas.tpm_limit, quotas.daily_budget,
                  quotas.isolation, quotas.model_scope, cache.exact_hit, cache.ttl, cache.team_isolation,
                  audit.cost_audit,
                  observability.traces_complete, security.default_credentials, security.secrets_in_traces,
                  security.secrets_in_artifacts):
        outcome = check(stack)
        assert outcome.passed, outcome.summary()
