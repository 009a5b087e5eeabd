"""FB-8 and FB-9 in acceptance: what an agent meets when its provider fails inside an answer (an error
event in a 200 stream) or refuses its prompt as too long. The cases are the chaos suite's own scenarios
(`scenarios/stream-error.yaml`, `context-overflow.yaml`), run here on every plan chain by the same engine,
so a cutover sign-off covers them without a chaos run."""

from __future__ import annotations

from harness.capabilities import Capability
from harness.registry import check
from harness.results import Outcome
from harness.spend import Estimate
from harness.stack import Stack
from harness.target import REPO

__all__ = ["context_overflow", "stream_error"]


def _cases(stack: Stack, scenario: str, ident: str) -> list[Outcome]:
    from harness.chaos import expand, load_scenarios, run_case  # the engine loads only when a case runs

    cases = [c for c in expand(load_scenarios(REPO / "scenarios"), stack.target, only=[scenario])]
    return [o for case in cases for o in run_case(stack, case).outcomes if o.id == ident]


@check("FB-8", needs={Capability.PROVIDER_CONTROL}, spend=lambda t: Estimate(2 * 2 * len(t.plan.chains), 20, 64))
def stream_error(stack: Stack) -> list[Outcome]:
    """FB-8: per plan chain, the primary's error event before the first byte and mid-stream."""
    return _cases(stack, "stream-error", "FB-8")


@check("FB-9", needs={Capability.PROVIDER_CONTROL}, spend=lambda t: Estimate(2 * len(t.plan.chains), 20, 64))
def context_overflow(stack: Stack) -> list[Outcome]:
    """FB-9: per plan chain, a prompt over the primary's context window."""
    return _cases(stack, "context-overflow", "FB-9")
