"""The agents' own traffic (Fly.io plan: nine agents cut over): AG-1 tool calls, AG-2 tool calls on fallback,
AG-3 structured output through the official openai SDK; AG-4 the Anthropic-native route through the anthropic SDK;
FB-8 a provider's error inside a 200 stream and FB-9 a prompt over the context window (the chaos engine's cases)."""

import pytest

from harness.pytest_plugin import Decide, criteria


@pytest.mark.parametrize("ident", criteria("AG-1", "AG-2", "AG-3", "AG-4", "AG-5", "FB-8", "FB-9"))
def test_agents(ident: str, decide: Decide) -> None:
    decide(ident)
