"""The routing webhook and the chat bot (VPS plan slices 4 and 6): RT-1..RT-3 over the plan's test
matrix, E2E-1 through the Bot API stand-in. Either the reference router (stack/router) or an n8n
webhook (stack/router/litellm-router.json) is verified the same way, through `router_url`."""

import pytest

from harness.pytest_plugin import Decide, criteria


@pytest.mark.parametrize("ident", criteria("RT-1", "E2E-1"))
def test_routing(ident: str, decide: Decide) -> None:
    decide(ident)
