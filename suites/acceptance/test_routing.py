"""The routing webhook and the chat bot (VPS plan slices 4 and 6): RT-1..RT-3 over the plan's test
matrix, E2E-1 through the Bot API stand-in. Either the reference router (stack/router) or an n8n
webhook (stack/router/litellm-router.json) is verified the same way, through `router_url`."""

from collections.abc import Callable

import pytest

from harness.checks import routing
from harness.results import Outcome
from harness.stack import Stack

Record = Callable[[Outcome], Outcome]


@pytest.mark.criterion("RT-1", "RT-2", "RT-3")
def test_routing_matrix(stack: Stack, record: Record) -> None:
    outcomes = [record(o) for o in routing.routing_matrix(stack)]
    assert all(outcomes), "; ".join(o.summary() for o in outcomes if not o)


@pytest.mark.criterion("E2E-1")
def test_bot_round_trip(stack: Stack, record: Record) -> None:
    outcome = record(routing.bot_round_trip(stack))
    assert outcome, outcome.summary()
