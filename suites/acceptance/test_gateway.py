"""Gateway acceptance: GW-1..GW-5 (VPS plan slice 1, Fly.io smoke and cutover)."""

from collections.abc import Callable

import pytest

from harness.checks import gateway
from harness.results import Outcome
from harness.stack import Stack

Record = Callable[[Outcome], Outcome]


@pytest.mark.criterion("GW-1")
def test_gw_1_gateway_ready(stack: Stack, record: Record) -> None:
    outcome = record(gateway.gateway_ready(stack))
    assert outcome, outcome.summary()


@pytest.mark.criterion("GW-2")
def test_gw_2_model_catalogue(stack: Stack, record: Record) -> None:
    outcome = record(gateway.model_catalogue(stack))
    assert outcome, outcome.summary()


@pytest.mark.criterion("GW-3")
def test_gw_3_each_model_answers(stack: Stack, record: Record) -> None:
    outcome = record(gateway.each_model_answers(stack))
    assert outcome, outcome.summary()


@pytest.mark.criterion("GW-4")
def test_gw_4_auth_enforced(stack: Stack, record: Record) -> None:
    outcome = record(gateway.auth_enforced(stack))
    assert outcome, outcome.summary()


@pytest.mark.criterion("GW-5")
def test_gw_5_openai_sdk_dropin(stack: Stack, record: Record) -> None:
    outcome = record(gateway.openai_sdk_dropin(stack))
    assert outcome, outcome.summary()
