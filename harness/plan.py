"""The plan: what the deployment must do, as the two seed plans say it, unless a target's `plan:` differs.

The LiteLLM config and keys file under test are evidence compared against this, never the source of a
threshold; every value a target changes is a deviation the report shows.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Plan", "PlanTeam", "ProxyBudget", "ServingBudget"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProxyBudget(_Model):
    """The proxy-wide monthly budget (the VPS plan: max_budget $50/month, alert when > $40)."""

    monthly_usd: float = Field(gt=0, description="cap: LLM calls are refused once this month's spend reaches it")
    warning_usd: float | None = Field(None, gt=0, description="spend at which one warning notification is sent")

    def scaled(self, factor: float) -> ProxyBudget:
        return ProxyBudget(monthly_usd=round(self.monthly_usd * factor, 4),
                           warning_usd=round(self.warning_usd * factor, 4) if self.warning_usd else None)


class PlanTeam(_Model):
    """A team key's limits as the plan sets them (the Fly.io plan's four keys)."""

    rpm: int | None = None
    tpm: int | None = None
    daily_usd: float | None = None


class ServingBudget(_Model):
    """'Keeps serving' under a fault, in seconds: every request of a short burst within `per_request_s` (the
    VPS plan's 5 s for a fallback answer) and the burst's P95 within `p95_s` (the Fly.io plan's agents: P95
    under 2 s). A 200 after 25 s is an outage to an agent whose client gives up sooner."""

    per_request_s: float = Field(5.0, gt=0)
    p95_s: float = Field(2.0, gt=0)
    burst: int = Field(10, ge=1, le=50, description="requests sent under the fault")


class Plan(_Model):
    """What the deployment must do, defaulting to the two seed plans. The LiteLLM config and the keys file
    under test are evidence compared against this, never the source of a threshold; a value set here that
    differs from the seed plans is a deviation the report shows."""

    # the VPS plan's slice 5 (LiteLLM option A; its OpenRouter step is not part of that config)
    chains: dict[str, list[str]] = Field(
        default_factory=lambda: {"gpt-4": ["claude-3", "gemini-2"], "claude-3": ["gpt-4", "gemini-2"],
                                 "gemini-2": ["claude-3", "gpt-4"]},
        description="fallback chains the gateway must have: primary -> the models after it, in order")
    cache_ttl_s: float = Field(86_400, gt=0, description="the exact cache's entry lifetime (Fly.io plan: 1 day)")
    teams: dict[str, PlanTeam] = Field(
        default_factory=lambda: {"customer": PlanTeam(rpm=100, tpm=200_000, daily_usd=50),
                                 "ceo": PlanTeam(rpm=60, tpm=120_000, daily_usd=25),
                                 "background": PlanTeam(rpm=30, tpm=60_000, daily_usd=10),
                                 "admin": PlanTeam(rpm=200, tpm=500_000, daily_usd=100)},
        description="each team key's limits (Fly.io plan); keys of other teams are judged by their own file")
    budget: ProxyBudget = Field(default_factory=lambda: ProxyBudget(monthly_usd=50, warning_usd=40),
                                description="the proxy-wide monthly budget (VPS plan: $50, alert above $40)")
    serving: ServingBudget = Field(default_factory=lambda: ServingBudget(),
                                   description="what 'keeps serving' under a fault means: a latency budget")

    # which models play which part in the plans' checks (MOD-3, MOD-4, MOD-5, ESC-1, COST-1)
    cost_order: list[str] = Field(default_factory=lambda: ["gpt-4", "claude-3", "gemini-2"],
                                  description="most to least expensive for the same prompt")
    cheap_model: str = "gemini-2"
    long_context_model: str = "claude-3"
    default_model: str = "gpt-4o-mini"
    escalation_model: str = "gpt-4o"
    list_prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"gpt-4": (10.0, 30.0), "claude-3": (3.0, 15.0), "gemini-2": (0.10, 0.40),
                                 "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.0)},
        description="USD per 1M input and output tokens: what the operator expects to be billed")

    def deviations(self) -> list[str]:
        """Where this plan differs from the seed plans, one line each, for the report."""
        seed, out = Plan(), []
        for name in type(self).model_fields:
            mine, theirs = getattr(self, name), getattr(seed, name)
            if isinstance(mine, dict) and isinstance(theirs, dict):
                for key in sorted(mine.keys() | theirs.keys()):
                    if mine.get(key) != theirs.get(key):
                        out.append(f"plan.{name}.{key}: {_plain(mine.get(key))} (seed plan: {_plain(theirs.get(key))})")
            elif mine != theirs:
                out.append(f"plan.{name}: {_plain(mine)} (seed plan: {_plain(theirs)})")
        return out

    def chain(self, primary: str) -> list[str] | None:
        """The plan's whole chain for a primary (primary first), or None when the plan has none for it."""
        rest = self.chains.get(primary)
        return [primary, *rest] if rest is not None else None


def _plain(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, BaseModel):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.model_dump(exclude_none=True).items()) or "no limits"
    if isinstance(value, list):
        return " -> ".join(str(v) for v in value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.6g}"
    return str(value)
