"""Fallback chains: the plan's are what the gateway must do; the config's are evidence.

The chaos cases run on the plan's chains (a gateway whose config lacks one then fails its probe with
what it really did), and each plan chain is also compared with the config, so a config without
fallbacks is a named FAIL of FB-1, never a run with nothing to check.
"""

from __future__ import annotations

from harness.results import Outcome
from harness.target import Target

__all__ = ["chains_configured", "chains_to_test"]


def chains_to_test(target: Target) -> list[tuple[str, ...]]:
    """The plan's chains in the plan's order, then any chain only the config declares (also verified)."""
    planned = [(primary, *rest) for primary, rest in target.plan.chains.items()]
    extra = [(primary, *rest) for primary, rest in target.fallbacks.items() if primary not in target.plan.chains]
    return [chain for chain in planned + extra if len(chain) >= 2]


def chains_configured(target: Target) -> list[Outcome]:
    """FB-1, one outcome per plan chain: the config under test declares exactly the plan's chain."""
    outcomes = []
    for primary, rest in target.plan.chains.items():
        planned = " -> ".join([primary, *rest])
        configured = target.fallbacks.get(primary)
        if configured is None:
            detail = f"no fallback chain configured for {primary} (the plan requires {planned})"
        elif list(configured) != list(rest):
            detail = f"the config's chain is {' -> '.join([primary, *configured])}; the plan requires {planned}"
        else:
            detail = f"configured as the plan requires: {planned}"
        outcomes.append(Outcome(id="FB-1", case=f"{primary} chain in the config", passed=configured == rest,
                                measured=" -> ".join([primary, *configured]) if configured is not None else None,
                                threshold=planned, detail=detail,
                                evidence={"config": str(target.litellm_config) if target.litellm_config else None}))
    return outcomes
