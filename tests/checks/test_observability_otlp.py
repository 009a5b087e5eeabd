"""The observability checks on a gateway that exports its traces over OTLP (LiteLLM's `langfuse_otel`
callback, where newer LiteLLM moves it): the same checks, and the chaos probe's FB-3, find their
traces through W3C trace context and PASS; with no price for the model in Langfuse, OBS-2 FAILs on
the $0 it books."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.chaos import expand, load_scenarios, run_case
from harness.checks import models, observability
from harness.stack import Stack
from harness.target import REPO, Target
from tests.conftest import reference_config, start_stack


def _over_otlp(config: dict[str, Any]) -> None:
    settings = config["litellm_settings"]
    for key in ("success_callback", "failure_callback"):
        settings[key] = [c for c in settings.get(key) or [] if c != "langfuse"]
    settings["callbacks"] = [*(settings.get("callbacks") or []), "langfuse_otel"]


@pytest.fixture(scope="module")
def otlp_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("otlp")
    config = reference_config(tmp, _over_otlp)
    # the exporter batches spans for 5 s by default; a shorter batch keeps this test quick, while the
    # criteria's 10 s limit is judged against the default in a real run
    previous = os.environ.get("OTEL_BSP_SCHEDULE_DELAY")
    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "300"
    try:
        yield from start_stack(tmp, Target.embedded().with_litellm_config(config))
    finally:
        if previous is None:
            os.environ.pop("OTEL_BSP_SCHEDULE_DELAY", None)
        else:
            os.environ["OTEL_BSP_SCHEDULE_DELAY"] = previous


def test_traces_over_otlp_pass_the_observability_checks(otlp_stack: Stack) -> None:
    assert otlp_stack.versions["langfuse_transport"] == "OTLP (langfuse_otel callback)"
    outcomes = [observability.trace_appears(otlp_stack), observability.trace_content(otlp_stack),
                observability.session_propagated(otlp_stack), models.traces_per_model(otlp_stack)]
    assert all(outcomes), [o.summary() for o in outcomes if not o]
    stats = httpx.get(f"{otlp_stack.target.langfuse.url}/_standin/stats").json()  # type: ignore[union-attr]
    assert stats["otlp_spans"] > 0 and stats["batches"] > 0  # the traces came over OTLP, not the ingestion API


def test_a_fallback_and_its_failed_attempt_are_traced_over_otlp(otlp_stack: Stack) -> None:
    (case,) = [c for c in expand(load_scenarios(REPO / "scenarios"), otlp_stack.target, only="primary-failure")
               if c.variant == "refused" and c.chain[0] == "gpt-4"]
    outcomes = {o.id: o for o in run_case(otlp_stack, case).outcomes}
    assert outcomes["FB-3"].passed, outcomes["FB-3"].summary()  # LiteLLM's OTel spans carry the failed attempt
    assert outcomes["FB-1"].passed and outcomes["FB-2"].passed


def test_obs2_fails_when_langfuse_has_no_price_for_the_model(otlp_stack: Stack) -> None:
    langfuse = otlp_stack.target.langfuse
    assert langfuse is not None
    auth = (langfuse.public_key, langfuse.secret_key.get_secret_value())
    definitions = httpx.get(f"{langfuse.url}/api/public/models", auth=auth).json()["data"]
    assert definitions  # the provider seeded one per deployment
    for definition in definitions:
        httpx.delete(f"{langfuse.url}/api/public/models/{definition['id']}", auth=auth).raise_for_status()
    outcome = observability.trace_content(otlp_stack)
    assert not outcome.passed and "cost" in outcome.detail, outcome.summary()
    assert all(e["cost"] == 0 for e in outcome.evidence.values() if isinstance(e, dict)), outcome.evidence
