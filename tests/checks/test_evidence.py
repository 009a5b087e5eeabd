"""The cache, auth and long-context checks on a gateway reached only as an external target (its URL and key,
no provider log): each decides on evidence it can gather there, or SKIPs naming the field, and never
PASSes on latency or answers alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import registry
from harness.checks import cache, gateway, models
from harness.registry import MissingCapability
from harness.stack import Stack
from harness.target import Endpoint, Target
from tests.conftest import reference_config, serve_in_thread, start_stack
from tests.doubles import lying_stacks


def _external(stack: Stack, **fields: Any) -> Stack:
    """What a user without the harness's mock gives: the gateway's URL and master key (and `fields`)."""
    live = stack.target
    assert live.gateway is not None
    target = Target.embedded().model_copy(update={
        "provider": "external", "gateway": Endpoint(url=live.gateway.url, master_key=live.gateway.master_key),
        "teams": live.teams, **fields})
    return Stack.over(target)


def _cache_off(config: dict[str, Any]) -> None:
    config["litellm_settings"]["cache"] = False


@pytest.fixture(scope="module")
def cacheless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A LiteLLM the test starts with its cache switched off, to be verified as somebody else's gateway."""
    tmp = tmp_path_factory.mktemp("cacheless")
    yield from start_stack(tmp, Target.embedded(reference_config(tmp, _cache_off)))


def test_ca1_fails_on_an_external_gateway_with_its_cache_off(cacheless: Stack) -> None:
    outcome = cache.exact_hit(_external(cacheless))
    assert not outcome.passed, outcome.summary()
    assert "5 of 5 repeats carried no cache signal (x-litellm-cache-key)" in outcome.detail
    assert outcome.evidence["upstream_calls"] is None and outcome.evidence["decided_by"] == ["cache signal"]


def test_ca1_passes_on_a_healthy_external_gateway_saying_what_it_could_not_see(stack: Stack) -> None:
    outcome = cache.exact_hit(_external(stack))
    assert outcome.passed, outcome.summary()
    assert "every repeat carried x-litellm-cache-key" in outcome.detail
    assert "provider log not available (mock_url)" in outcome.detail and "one upstream call" not in outcome.detail


def test_ca3_skips_without_redis_and_fails_with_it_on_a_cache_that_is_off(cacheless: Stack) -> None:
    with pytest.raises(MissingCapability, match="redis_url"):
        registry.run("CA-3", _external(cacheless))
    outcome = cache.ttl(_external(cacheless, redis_url=cacheless.target.redis_url))
    assert not outcome.passed and "was not a hit right after it was written" in outcome.detail, outcome.summary()


def test_ca4_fails_without_provider_log_on_a_cache_that_is_off(cacheless: Stack) -> None:
    outcome = cache.team_isolation(_external(cacheless))
    assert not outcome.passed and "no cache hit even for the same team" in outcome.detail, outcome.summary()
    assert outcome.evidence["decided_by"] == ["cache signal"]


@pytest.fixture(scope="module")
def liar(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> dict[str, Stack]:
    return lying_stacks(serve_in_thread, tmp_path_factory.mktemp("liar"), redis_url)


def test_gw4_without_provider_log_fails_on_auth_that_is_off_and_claims_no_upstream_count(
        liar: dict[str, Stack], stack: Stack) -> None:
    broken = gateway.auth_enforced(liar["without provider control"])
    assert not broken.passed and "no key got 200" in broken.detail
    healthy = gateway.auth_enforced(_external(stack))
    assert healthy.passed, healthy.summary()
    assert "whether any reached a provider was not observed (no provider log: mock_url)" in healthy.detail


def test_mod5_without_provider_log_decides_on_usage(liar: dict[str, Stack], stack: Stack) -> None:
    cut = models.long_context_whole(liar["without provider control"])  # cuts the input, counts 12 tokens
    assert not cut.passed and "the input was cut before the provider" in cut.detail, cut.summary()
    whole = models.long_context_whole(_external(stack))
    assert whole.passed and whole.evidence["decided_by"] == ["response usage"], whole.summary()
    assert "provider log not available" in whole.detail


def test_the_external_view_has_no_provider_log(stack: Stack, tmp_path: Path) -> None:
    from harness.capabilities import Capability

    assert Capability.PROVIDER_CONTROL not in _external(stack).capabilities
