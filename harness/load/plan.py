"""From options and a stack to what runs: the profiles asked for, the spec users send, progress lines."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from harness.load.driver import DEFAULT_PROMPTS, LoadSpec
from harness.load.profiles import PROFILES, Profile, open_loop, sweep
from harness.stack import Stack

__all__ = ["choose_profiles", "progress_printer", "spec_for"]

PLAN_PROFILES = ("steady", "spike", "sustained")


def choose_profiles(names: str, scale: float = 1.0, rate: float = 10.0, arrival: str = "constant") -> list[Profile]:
    """`steady`, `spike,steady`, `all` (the plan's three), `ramp`, `sweep`, `open` (at `rate`), scaled."""
    chosen = []
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        if name == "all":
            chosen += [PROFILES[n] for n in PLAN_PROFILES]
        elif name in PROFILES:
            chosen.append(PROFILES[name])
        elif name == "open":
            chosen.append(open_loop(rate, 60.0, arrival))  # type: ignore[arg-type]
        elif name == "sweep":
            chosen.append(sweep(arrival=arrival))  # type: ignore[arg-type]
        else:
            known = ", ".join([*PROFILES, "open", "sweep", "all"])
            raise ValueError(f"unknown load profile {name!r}; known: {known}")
    return [p.scaled(scale) for p in chosen]


def spec_for(stack: Stack) -> LoadSpec:
    """Users send the target's prompt mix to its models, with the master key or the team keys."""
    settings = stack.target.load
    if settings.keys == "teams":
        if not stack.target.teams:
            raise ValueError("load.keys is 'teams' but the target lists no team keys")
        key = ",".join(team.secret() for team in stack.target.teams)
    else:
        if stack.master_key is None:
            raise ValueError("load.keys is 'master' but the target has no gateway.master_key")
        key = stack.master_key.get_secret_value()
    return LoadSpec(url=stack.gateway_url, key=key, models=settings.models,
                    prompts=settings.prompts or DEFAULT_PROMPTS, stream_ratio=settings.stream_ratio,
                    max_tokens=settings.max_tokens, think_time_s=settings.think_time_s,
                    max_requests=settings.max_requests)


def progress_printer(profile: Profile, every_s: float = 5.0) -> Callable[[dict[str, Any]], None]:
    """One line every `every_s` seconds (and the last): users, requests/s, errors, P95 so far."""
    last = [0.0]

    def show(item: dict[str, Any]) -> None:
        final = item.get("state") in ("finished", "interrupted")
        if not final and time.monotonic() - last[0] < every_s:
            return
        last[0] = time.monotonic()
        p95 = f"{item['p95_s'] * 1000:.0f} ms" if item.get("p95_s") is not None else "-"
        print(f"load {profile.name}: t={item['t']:.0f}/{profile.duration_s:.0f} s users={item['users']} "
              f"requests={item['requests']} rps={item['rps']} errors={item['errors']} p95={p95}"
              f"{' ' + item['state'] if final else ''}", file=sys.stderr, flush=True)

    return show
