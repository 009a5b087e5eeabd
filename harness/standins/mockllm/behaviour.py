"""What a mock model does on its next call: delay, pace, failure and truncation, set at run time.

A fault on the provider side (429, 529, a slow first token, a cut stream) is data a check sets
through the control API, so scenarios can script it without restarting anything.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Behaviour", "BehaviourTable"]


class Behaviour(BaseModel):
    """Per-model behaviour. Times are milliseconds; `status` forces an error with `failure_ratio` odds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: float = Field(0.0, ge=0, description="delay before the answer (or before the first token)")
    latency_dist: Literal["fixed", "uniform", "normal", "exponential"] = "fixed"
    latency_spread_ms: float = Field(0.0, ge=0, description="half-width (uniform) or standard deviation (normal)")
    ttft_ms: float | None = Field(None, ge=0, description="time to first token for streams; default latency_ms")
    tokens_per_s: float | None = Field(None, gt=0, description="output pace; None streams as fast as possible")
    status: int | None = Field(None, ge=400, le=599, description="forced error status (429, 500, 503, 529 ...)")
    retry_after_s: float | None = Field(None, ge=0, description="Retry-After sent with a forced 429/503/529")
    retry_after_growth: float = Field(1.0, ge=1, description="each further forced failure of the model asks for "
                                                            "this many times the last Retry-After (1, 2, 4 ...)")
    failure_ratio: float = Field(1.0, ge=0, le=1, description="share of calls that get the forced status")
    stream_cut_after: int | None = Field(None, ge=0, description="drop the connection after N content chunks")
    stream_error_after: int | None = Field(None, ge=0, description="after N chunks, the provider's in-stream error "
                                                                   "event (Anthropic overloaded_error, an OpenAI "
                                                                   "error chunk), then the connection closes")
    output_tokens: int = Field(24, ge=1, le=100_000, description="reply length in tokens, capped by max_tokens")
    fill_max_tokens: bool = Field(False, description="answer with exactly max_tokens tokens where a request sets "
                                                     "it (vLLM's ignore_eos, as load tools use it)")
    reply: str | None = Field(None, description="fixed reply text instead of the generated one")
    tool_fault: Literal["malformed_arguments", "unknown_tool"] | None = Field(
        None, description="break the tool call: arguments that are not JSON, or a tool that was never offered")
    ignore_tools: bool = Field(False, description="answer in prose although tools were offered")
    context_window: int | None = Field(None, ge=1, description="a prompt of more tokens is refused with the "
                                                               "provider's own context-length 400")

    @model_validator(mode="after")
    def _retry_after_needs_status(self) -> Behaviour:
        if self.retry_after_s is not None and self.status is None:
            raise ValueError("retry_after_s needs a forced status (e.g. status: 429)")
        return self

    def fails(self, rng: random.Random) -> bool:
        return self.status is not None and (self.failure_ratio >= 1.0 or rng.random() < self.failure_ratio)

    def delay_s(self, rng: random.Random, first_token: bool = False) -> float:
        base = self.ttft_ms if first_token and self.ttft_ms is not None else self.latency_ms
        spread = self.latency_spread_ms
        if self.latency_dist == "uniform":
            value = rng.uniform(base - spread, base + spread)
        elif self.latency_dist == "normal":
            value = rng.gauss(base, spread)
        elif self.latency_dist == "exponential":
            value = rng.expovariate(1.0 / base) if base > 0 else 0.0
        else:
            value = base
        return max(value, 0.0) / 1000.0

    def token_gap_s(self) -> float:
        return 1.0 / self.tokens_per_s if self.tokens_per_s else 0.0


_DEFAULT = Behaviour()


class BehaviourTable:
    """Looks a call's behaviour up by model name, then `provider:<api>`, then `*`."""

    def __init__(self) -> None:
        self._table: dict[str, Behaviour] = {}

    def get(self, model: str, api: str) -> Behaviour:
        table = self._table
        if not table:
            return _DEFAULT
        return table.get(model) or table.get(f"provider:{api}") or table.get("*") or _DEFAULT

    def set(self, key: str, behaviour: Behaviour) -> None:
        self._table[key] = behaviour

    def reset(self, key: str | None = None) -> None:
        if key is None:
            self._table.clear()
        else:
            self._table.pop(key, None)

    def dump(self) -> dict[str, dict[str, object]]:
        return {key: b.model_dump(exclude_defaults=True) for key, b in self._table.items()}
