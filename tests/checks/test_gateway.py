"""GW-1..GW-5 pass on the reference stack and FAIL on stacks broken the way real gateways break."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness._proc import free_port
from harness.checks import gateway
from harness.stack import Stack
from harness.standins.mockllm import MockControl
from harness.target import Endpoint, Target
from tests.conftest import reference_config, start_stack


def _stock_auth_and_incomplete(config: dict[str, Any]) -> None:
    """LiteLLM's own key check without its database, claude-3 dropped, no Langfuse callbacks."""
    config["model_list"] = [m for m in config["model_list"] if m["model_name"] != "claude-3"]
    config["router_settings"]["fallbacks"] = [{"gpt-4": ["gemini-2"]}]
    config["general_settings"].pop("custom_auth")
    for key in ("success_callback", "failure_callback"):
        config["litellm_settings"].pop(key)


@pytest.fixture(scope="module")
def stock_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A DB-less gateway on LiteLLM's stock key check, a model missing, tracing off; the target expects the plan."""
    tmp = tmp_path_factory.mktemp("stock")
    config = reference_config(tmp, _stock_auth_and_incomplete)
    target = Target.embedded().model_copy(update={"litellm_config": config, "thresholds": {"OBS-1": 3.0}})
    yield from start_stack(tmp, target)


def test_all_gateway_checks_pass_on_the_reference_stack(stack: Stack) -> None:
    for check in (gateway.gateway_ready, gateway.model_catalogue, gateway.each_model_answers,
                  gateway.auth_enforced, gateway.openai_sdk_dropin):
        outcome = check(stack)
        assert outcome.passed, outcome.summary()


def test_gw1_fails_when_the_gateway_does_not_answer(stack: Stack) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    target = stack.target.model_copy(update={"thresholds": {"GW-1": 1.0}})
    outcome = gateway.gateway_ready(Stack.over(target.model_copy(update={"gateway": Endpoint(url=dead)})))
    assert not outcome.passed and "not ready within 1 s" in outcome.detail and "ConnectError" in outcome.detail


def test_gw2_fails_when_a_configured_model_is_missing(stock_stack: Stack) -> None:
    outcome = gateway.model_catalogue(stock_stack)
    assert not outcome.passed and outcome.evidence["missing"] == ["claude-3"]


def test_gw3_fails_when_a_model_only_answers_through_its_fallback(stack: Stack, mock: MockControl) -> None:
    mock.set("gpt-4-turbo", status=500)
    outcome = gateway.each_model_answers(stack)
    assert not outcome.passed and "gpt-4: served by fallback" in outcome.detail
    chat = len(stack.target.chat_models())
    assert outcome.measured == f"{chat - 1}/{chat} models answered"


def test_gw3_fails_when_every_provider_errors(stack: Stack, mock: MockControl) -> None:
    mock.set("*", status=503)
    outcome = gateway.each_model_answers(stack)
    assert not outcome.passed and outcome.measured == f"0/{len(stack.target.chat_models())} models answered"
    assert "gemini-2: HTTP 503" in outcome.detail


def test_gw4_fails_when_bad_keys_get_anything_but_401(stock_stack: Stack) -> None:
    # LiteLLM 1.103.0 without its database: no key -> 500, unknown key -> 400 ("No connected db")
    outcome = gateway.auth_enforced(stock_stack)
    assert not outcome.passed and all(code != 401 for code in outcome.measured.values())
    assert "no key got" in outcome.detail and outcome.evidence["upstream_calls"] == 0


def test_gw5_fails_when_the_stream_is_cut_mid_way(stack: Stack, mock: MockControl) -> None:
    # every provider cuts its streams: a fallback (gpt-4 may still be cooling down from an earlier test)
    # must not hand the check a whole stream from another model
    mock.set("*", stream_cut_after=3)
    outcome = gateway.openai_sdk_dropin(stack)
    assert not outcome.passed and ("differs from plain" in outcome.detail or "chat/stream" in outcome.detail)


def test_gw5_fails_when_embeddings_fail(stack: Stack, mock: MockControl) -> None:
    mock.set("text-embedding-3-large", status=500)
    outcome = gateway.openai_sdk_dropin(stack)
    assert not outcome.passed and "embeddings:" in outcome.detail


def test_checks_read_the_threshold_from_the_target(tmp_path: Path) -> None:
    target = Target.embedded().model_copy(update={"thresholds": {"GW-1": 0.5}})
    dead = f"http://127.0.0.1:{free_port()}"
    outcome = gateway.gateway_ready(Stack.over(target.model_copy(update={"gateway": Endpoint(url=dead)})))
    assert outcome.threshold == 0.5
