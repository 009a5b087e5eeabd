"""Load profiles as data: the VPS plan's steady, spike and sustained runs, a ramp, and open-loop rates.

A closed profile is stages of users (Locust's model: each user waits for its answer, thinks, asks
again); an open one is stages of arrival rates, timed from the intended send time (wrk2's model).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["PROFILES", "SWEEP_RATES", "Profile", "Stage", "open_loop", "sweep"]

Arrival = Literal["closed", "constant", "poisson"]


@dataclass(frozen=True)
class Stage:
    """Until `until_s` into the run: `users` users (closed) or `rate` requests/s (open)."""

    until_s: float
    users: int = 0
    spawn_rate: float = 1.0
    rate: float = 0.0


@dataclass(frozen=True)
class Profile:
    name: str
    stages: tuple[Stage, ...]
    arrival: Arrival = "closed"
    criterion: str | None = None  # the success-ratio criterion this profile decides (LD-1..LD-3)
    summary: str = ""

    @property
    def duration_s(self) -> float:
        return self.stages[-1].until_s

    @property
    def peak_users(self) -> int:
        return max(s.users for s in self.stages)

    def scaled(self, factor: float, min_stage_s: float = 5.0) -> Profile:
        """The same shape with every stage `factor` times as long, but at least `min_stage_s` (CI: 0.02)."""
        if not 0 < factor <= 1:
            raise ValueError(f"duration scale must be in (0, 1], got {factor}")
        if factor == 1:
            return self
        stages, end, before = [], 0.0, 0.0
        for stage in self.stages:
            end += max((stage.until_s - before) * factor, min_stage_s)
            before = stage.until_s
            stages.append(replace(stage, until_s=round(end, 3)))
        return replace(self, stages=tuple(stages))


PROFILES: dict[str, Profile] = {
    "steady": Profile("steady", (Stage(300, users=10, spawn_rate=10),), criterion="LD-1",
                      summary="10 users for 5 min (VPS plan slice 12: > 99 % success)"),
    "spike": Profile("spike", (Stage(60, users=100, spawn_rate=100),), criterion="LD-2",
                     summary="100 users at once for 1 min (VPS plan slice 12: > 95 % success)"),
    "sustained": Profile("sustained", (Stage(1800, users=50, spawn_rate=10),), criterion="LD-3",
                         summary="50 users for 30 min (VPS plan slice 12: > 98 % success)"),
    "ramp": Profile("ramp", tuple(Stage(60 * i, users=25 * i, spawn_rate=5) for i in range(1, 5)),
                    summary="25 more users every minute up to 100"),
}


def open_loop(rate: float, duration_s: float, arrival: Arrival = "constant") -> Profile:
    """A constant or Poisson arrival rate for `duration_s`; latency counts from each intended send time."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("an open-loop run needs a positive rate and duration")
    if arrival == "closed":
        raise ValueError("open_loop needs arrival 'constant' or 'poisson'")
    return Profile(f"open-{arrival}-{rate:g}rps", (Stage(duration_s, rate=rate),), arrival=arrival,
                   summary=f"{arrival} arrivals at {rate:g} requests/s for {duration_s:g} s")


SWEEP_RATES = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0)


def sweep(rates: tuple[float, ...] = SWEEP_RATES, step_s: float = 20.0,
          arrival: Arrival = "constant") -> Profile:
    """Rising open-loop rates, one step each, to find where the gateway stops keeping up (the knee)."""
    return Profile("sweep", tuple(Stage(step_s * (i + 1), rate=r) for i, r in enumerate(rates)), arrival=arrival,
                   summary=f"open-loop rates {', '.join(f'{r:g}' for r in rates)} requests/s, {step_s:g} s each")
