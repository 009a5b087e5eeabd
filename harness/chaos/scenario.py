"""Chaos scenarios as data: faults on roles of a fallback chain, probes, expectations, rollback.

A scenario names roles (`primary`, `next`, `last`, `all_but_last`, `all`, `redis`) rather than
models, so one file runs against every chain the target's LiteLLM config declares. Service hops
(`gateway`: the router's upstream; `router`: the bot's) need no chain: `chains: none`, and the
probe goes `via: webhook` or `via: bot` instead of straight to the gateway.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.chaos.chains import chains_to_test
from harness.target import Target, TargetError

__all__ = ["Case", "Fault", "Probe", "Scenario", "expand", "load_data", "load_scenarios"]

Role = Literal["primary", "next", "last", "all_but_last", "all", "redis", "langfuse", "gateway", "router"]
SERVICE_ROLES = ("redis", "langfuse", "gateway", "router")  # a fault proxy of that name, whatever the chain
Expect = Literal["primary", "next", "last", "any", "error", "reported"]
Kind = Literal["refused", "down", "reset", "timeout", "latency", "bandwidth", "cut", "status", "slow_first_token",
               "stream_cut", "stream_error", "context_overflow", "failure_ratio"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Fault(_Data):
    """One fault: network kinds act on the target's fault proxy, provider kinds on the mock."""

    target: Role
    kind: Kind
    attributes: dict[str, Any] = Field(default_factory=dict)


class Probe(_Data):
    via: Literal["gateway", "webhook", "bot"] = Field("gateway", description="gateway: a chat call; webhook: a "
                                                      "task to the routing webhook; bot: a message to the chat bot")
    stream: bool = False
    expect: Expect
    criteria: list[str] = Field(default_factory=list)
    cache: bool = Field(False, description="let the gateway use its cache (CA-5 needs the cache path)")
    burst: bool = Field(False, description="send the plan's serving burst (plan.serving.burst requests) and judge "
                                           "its latency, not one request")


class Scenario(_Data):
    name: str
    title: str
    chains: Literal["each", "first", "none"] = "each"
    variants: dict[str, list[Fault]]
    quick: list[str] | None = Field(None, description="variants of the quick run; all when omitted")
    steady_state: Probe | None = None
    method: list[Probe]
    recovery: Probe | None = None
    hold_s: float = Field(0.0, ge=0, le=120, description="keep the faults on at least this long: an outage shorter "
                          "than a client's retry window (the langfuse SDK's default: 3 tries within ~3 s) proves "
                          "nothing about what the client does when the window runs out")


@dataclass(frozen=True)
class Case:
    scenario: Scenario
    chain: tuple[str, ...]
    variant: str

    @property
    def id(self) -> str:
        return f"{self.scenario.name}[{self.chain[0]}-{self.variant}]" if self.chain else \
            f"{self.scenario.name}[{self.variant}]"

    @property
    def label(self) -> str:
        return f"{' > '.join(self.chain)} / {self.variant}" if self.chain else self.variant

    def role(self, role: str) -> list[str]:
        if role in SERVICE_ROLES:
            return [role]
        chain = list(self.chain)
        return {"primary": chain[:1], "next": chain[1:2], "last": chain[-1:], "all_but_last": chain[:-1],
                "all": chain}[role]

    def faults(self) -> list[Fault]:
        return self.scenario.variants[self.variant]


M = TypeVar("M", bound=BaseModel)


def load_data(folder: Path, model: type[M]) -> list[M]:
    """Every `*.yaml` in `folder` as `model`, in name order; a bad file is one line naming file and field."""
    items = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            items.append(model.model_validate(yaml.safe_load(path.read_text())))
        except (ValidationError, yaml.YAMLError) as exc:
            first = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": (), "msg": str(exc)}
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            raise TargetError(f"{path}: {where}: {first['msg']}") from None
    return items


def load_scenarios(folder: Path) -> list[Scenario]:
    return load_data(folder, Scenario)


def expand(scenarios: list[Scenario], target: Target, quick: bool = False,
           only: str | Collection[str] | None = None) -> list[Case]:
    """Every (scenario, chain, variant) to run: the plan's chains (then any only the config declares); `only`
    keeps the scenarios named, or those having a variant of that name."""
    wanted = {only} if isinstance(only, str) else set(only or ())
    chains = chains_to_test(target)
    cases = []
    for scenario in scenarios:
        if wanted and not wanted & {scenario.name, *scenario.variants}:
            continue
        variants = [v for v in scenario.variants if not quick or scenario.quick is None or v in scenario.quick]
        if scenario.chains == "none":
            cases += [Case(scenario, (), variant) for variant in variants]
            continue
        picked = chains[:1] if (scenario.chains == "first" or quick) else chains
        cases += [Case(scenario, tuple(chain), variant) for chain in picked for variant in variants
                  if len(chain) >= 2]
    return cases
