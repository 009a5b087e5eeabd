"""What a run will do before anything is sent: which criteria run or SKIP (and the field that enables them),
the LLM calls each sends and what they cost at the plan's list prices.

`harness plan` prints it as a table; every suite prints its one line first, and refuses to start when the
estimate is above `max_spend_usd` where the providers are real. It is computed from the collected tests:
a registry criterion by the check the registry would pick on this stack (`Check.spend`), a chaos case by
its probes (the serving burst counted in full), a load profile by its users, stage lengths and think time.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import registry
from harness.capabilities import Capability, fields_for
from harness.criteria import criterion
from harness.spend import Estimate
from harness.stack import Stack
from harness.target import Target

__all__ = ["Preview", "Row", "collect", "load_estimate", "preview", "prospective_stack"]

_RECOVERY_PROBES = 2  # a recovery normally answers on its first or second probe (the bound is FB-6's 30 s)


@dataclass(frozen=True)
class Row:
    ids: tuple[str, ...]
    test: str
    runs: bool
    why: str = ""  # why it SKIPs: the target fields (or provider) that would let it run
    calls: int | None = 0  # None: not estimated (each call is still booked by the spend guard)
    usd: float = 0.0


@dataclass
class Preview:
    suite: str
    rows: list[Row] = field(default_factory=list)
    real_providers: bool = False
    cap_usd: float | None = None

    @property
    def calls(self) -> int:
        return sum(r.calls or 0 for r in self.rows if r.runs)

    @property
    def usd(self) -> float:
        return sum(r.usd for r in self.rows if r.runs)

    def unestimated(self) -> list[str]:
        return sorted({i for r in self.rows if r.runs and r.calls is None for i in r.ids})

    def line(self) -> str:
        """The one-line summary a suite prints before it starts."""
        ids = {i for r in self.rows for i in r.ids}
        running = {i for r in self.rows if r.runs for i in r.ids}
        where = "real providers" if self.real_providers else "the harness's mock (no money is spent)"
        cap = f"; cap ${self.cap_usd:.2f} (max_spend_usd)" if self.cap_usd is not None else ""
        rest = f"; not estimated: {', '.join(self.unestimated())}" if self.unestimated() else ""
        return (f"plan: {len(running)} of {len(ids)} criteria will run, {len(ids - running)} SKIP; ~{self.calls} LLM "
                f"calls, ~${self.usd:.4f} at the plan's list prices on {where}{cap}{rest}")

    def over_cap(self) -> str | None:
        """Why the run must not start: its estimate is above the cap (where one applies)."""
        if self.cap_usd is None or self.usd <= self.cap_usd:
            return None
        return (f"spend guard: this {self.suite} run is estimated at ${self.usd:.4f} ({self.calls} LLM calls at the "
                f"plan's list prices), above max_spend_usd ${self.cap_usd:.2f}; nothing was sent. Raise max_spend_usd "
                f"in the target, or run fewer checks (-k); `harness plan --target FILE` shows each check's share")


def collect(suite: Path, target: Path | None, extra: list[str], provider: str | None) -> dict[str, Any]:
    """The preview of a suite folder on a target file, from pytest's collection alone (nothing is sent);
    ValueError with pytest's last words when the suite cannot be collected."""
    import pytest

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "preview.json"
        args = [str(suite), "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:locust",
                "--rootdir", str(suite.parent.parent), "--preview-json", str(out), *extra]
        if target is not None:
            args += ["--target", str(target.resolve())]
        if provider is not None:
            args += ["--provider", provider]
        with contextlib.redirect_stdout(io.StringIO()) as captured:
            code = pytest.main(args)
        if not out.exists():
            raise ValueError(f"cannot plan {suite.name} (pytest exit {code}): {captured.getvalue().strip()[-300:]}")
        document: dict[str, Any] = json.loads(out.read_text())
        return document


def prospective_stack(target: Target) -> Stack:
    """The stack a target's provider would give, before it is started: an external one has what its fields
    give; one the harness starts has every capability (its mock, fault proxies, Redis, processes)."""
    if target.provider == "external":
        return Stack.over(target)
    granted = set(Capability)
    if target.compose is not None:  # what the user's file has: the roles it names
        roles = target.compose.services
        granted.discard(Capability.HOST_NETWORK)
        for role, gives in ((roles.router, {Capability.ROUTER}), (roles.bot, {Capability.BOT_API}),
                            (roles.postgres, {Capability.POSTGRES}), (roles.redis, {Capability.REDIS}),
                            (roles.observer, {Capability.EVENT_PIPELINE, Capability.OBSERVER_CONTROL,
                                              Capability.AUDIT_LOG, Capability.CHANGE_REQUESTS})):
            if role is None:
                granted -= gives
    return Stack.over(target, provider=target.provider, granted=frozenset(granted))


def _cost(stack: Stack, estimate: Estimate, models: Iterable[str] = ()) -> float:
    assert stack.spend is not None
    return stack.spend.estimate(estimate, models)


def _registry_row(ident: str, ids: tuple[str, ...], test: str, stack: Stack) -> Row:
    try:
        chosen = registry.select(ident, stack)
    except registry.MissingCapability as exc:
        return Row(ids, test, False, fields_for(exc.missing))
    estimate = chosen.estimate(stack.target)
    return Row(ids, test, True, calls=estimate.calls, usd=_cost(stack, estimate))


def _case_row(case: Any, ids: tuple[str, ...], test: str, stack: Stack) -> Row:
    from harness.chaos import available

    reason = available(stack)
    if reason:
        return Row(ids, test, False, reason)
    scenario = case.scenario
    burst = stack.target.plan.serving.burst
    calls = (1 if scenario.steady_state else 0) + sum(burst if p.burst else 1 for p in scenario.method) \
        + (_RECOVERY_PROBES if scenario.recovery else 0)
    return Row(ids, test, True, calls=calls, usd=_cost(stack, Estimate(calls, 20), case.chain))


def load_estimate(target: Target, profiles: Iterable[Any]) -> Estimate:
    """Requests the load profiles send at most: users (or arrivals) times stage length over the shortest
    think time, bounded by `load.max_requests` per profile."""
    settings = target.load
    think = max(0.05, min(settings.think_time_s))
    calls = 0
    for profile in profiles:
        total, before = 0.0, 0.0
        for stage in profile.stages:
            length = stage.until_s - before
            before = stage.until_s
            total += stage.rate * length if profile.arrival != "closed" else stage.users * length / think
        calls += min(settings.max_requests, int(total) + 1)
    prompt = int(settings.prompt_tokens.expected()) if settings.prompt_tokens else 30  # the target's mix, not ours
    output = int(settings.output_tokens.expected()) if settings.output_tokens else settings.max_tokens
    return Estimate(calls, prompt, output)


def preview(items: Iterable[Any], stack: Stack, suite: str, load_profiles: Iterable[Any] = ()) -> Preview:
    """The preview of collected pytest items on `stack` (a live one, or `prospective_stack`)."""
    assert stack.spend is not None
    out = Preview(suite=suite, real_providers=stack.spend.real_providers, cap_usd=stack.spend.cap_usd)
    profiles = list(load_profiles)
    load_counted = False
    for item in items:
        marker = item.get_closest_marker("criterion")
        if marker is None:
            continue
        ids = tuple(str(a) for a in marker.args)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "case" in params:
            out.rows.append(_case_row(params["case"], ids, item.name, stack))
        elif "ident" in params and params["ident"] in registry.REGISTRY:
            out.rows.append(_registry_row(params["ident"], ids, item.name, stack))
        else:
            lacking = stack.lacks(sorted(frozenset().union(*(criterion(i).needs for i in ids)),
                                         key=list(Capability).index))
            if lacking:
                out.rows.append(Row(ids, item.name, False, fields_for([lacking])))
                continue
            declared = item.get_closest_marker("spend")
            if declared is not None:
                estimate = Estimate(*declared.args)
                out.rows.append(Row(ids, item.name, True, calls=estimate.calls, usd=_cost(stack, estimate)))
            elif ids[0].startswith("LD-"):  # the profiles' requests, once for the whole load run
                estimate = load_estimate(stack.target, profiles if not load_counted else ())
                load_counted = True
                out.rows.append(Row(ids, item.name, True, calls=estimate.calls,
                                    usd=_cost(stack, estimate, stack.target.load.models)))
            else:
                out.rows.append(Row(ids, item.name, True, calls=None))
    return out
