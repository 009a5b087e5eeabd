"""What a provider saw of one client request: each attempt the gateway sent, read from the mock's log.

The mock records every call with its arrival time, the model it was for, the status it answered and
the Retry-After it asked for; the harness's prompt carries a nonce, so each attempt is tied to the
client request it serves. The retry cases (scenarios/retries/*.yaml) are data, like the chaos scenarios.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.chaos.scenario import load_data
from harness.standins.mockllm.client import MockControl

__all__ = ["Attempt", "RetryCase", "RetryScenario", "load_retry_scenarios", "timeline", "waits"]

class RetryCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    criteria: list[Literal["RTY-1", "RTY-2", "RTY-3", "RTY-4"]]
    target: Literal["primary", "chain"] = Field(description="the chain's primary, or every model of the chain")
    status: int = Field(ge=400, le=599)
    retry_after_s: float | None = Field(None, gt=0)
    retry_after_growth: float = Field(1.0, ge=1)
    expect_fallback: bool = Field(False, description="the plan's chain must answer (a bad provider key)")
    requests: int = Field(1, ge=1, le=20)


class RetryScenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    cases: list[RetryCase]


def load_retry_scenarios(folder: Path) -> list[RetryScenario]:
    return load_data(folder, RetryScenario)


@dataclass(frozen=True)
class Attempt:
    """One call that reached a provider on behalf of a client request."""

    at_s: float  # seconds after the client request was sent
    model: str  # as the provider saw it
    status: int | str
    retry_after_s: float | None
    tokens: int  # prompt + completion tokens the provider reported (what it bills)

    def row(self) -> dict[str, Any]:
        return {"at_s": round(self.at_s, 3), "model": self.model, "status": self.status,
                "retry_after_s": self.retry_after_s, "tokens": self.tokens}


def timeline(mock: MockControl, since: int, nonce: str, sent_at: float) -> list[Attempt]:
    """The attempts whose prompt carries `nonce`, in arrival order (the mock's clock is this machine's)."""
    out = []
    for entry in mock.requests(since=since):
        if nonce not in entry.get("body", ""):
            continue
        usage = entry.get("usage") or {}
        out.append(Attempt(at_s=float(entry["ts"]) - sent_at, model=str(entry["model"]), status=entry["status"],
                           retry_after_s=entry.get("retry_after_s"),
                           tokens=int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))))
    return sorted(out, key=lambda a: a.at_s)


def waits(attempts: list[Attempt], model: str) -> list[tuple[float, float | None]]:
    """Between consecutive attempts on `model`: (seconds waited, Retry-After the earlier one was given)."""
    on = [a for a in attempts if a.model == model]
    return [(b.at_s - a.at_s, a.retry_after_s) for a, b in itertools.pairwise(on)]
