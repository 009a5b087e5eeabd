"""Per-request samples and the statistics computed from them, exactly (every sample is kept).

Percentiles are nearest-rank on the raw samples (P95 = the smallest value with at least 95 % of
samples at or below it): no bucketing, so "P95 < 3 s" is decided on the measured value itself.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["QUANTILES", "Sample", "Summary", "percentile", "read_samples", "summarize"]

QUANTILES = (0.5, 0.9, 0.95, 0.99)


@dataclass
class Sample:
    """One request as the load generator saw it; times are epoch seconds and durations seconds."""

    sent: float
    status: int  # 0: no HTTP status (connection error, timeout)
    e2e_s: float  # from the actual send to the last byte
    intended: float | None = None  # open loop: when the schedule said to send
    stream: bool = False
    model: str = ""
    ttft_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    output_tokens: int = 0
    error: str = ""
    prompt_tokens: int = 0  # the gateway's usage figure (the provider's count)
    max_tokens: int | None = None  # the output length asked for
    stage: int = 0
    worker: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error

    @property
    def latency_s(self) -> float:
        """End to end from the intended send time where there was a schedule: waiting counts."""
        return self.e2e_s + (self.sent - self.intended if self.intended is not None else 0.0)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of unsorted `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _dist(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    out: dict[str, float | None] = {f"p{round(q * 100)}": (ordered[max(0, math.ceil(q * len(ordered)) - 1)]
                                                           if ordered else None) for q in QUANTILES}
    out["max"] = ordered[-1] if ordered else None
    out["mean"] = sum(ordered) / len(ordered) if ordered else None
    out["count"] = len(ordered)
    return out


@dataclass
class Summary:
    requests: int
    ok: int
    success_ratio: float
    statuses: dict[str, int]
    errors: dict[str, int]
    latency_s: dict[str, float | None]
    ttft_s: dict[str, float | None]
    itl_s: dict[str, float | None]
    tokens_per_s: dict[str, float | None]
    duration_s: float
    rps: float
    rps_series: list[tuple[int, int]]  # (second since start, completed requests in that second)
    latency_series: list[tuple[int, float | None]]  # (second, P95 of requests sent in that second)
    schedule_lag_s: dict[str, float | None]  # open loop: sent - intended (the generator falling behind)
    prompt_tokens: dict[str, float | None] = field(default_factory=dict)  # successful requests, usage figures
    output_tokens: dict[str, float | None] = field(default_factory=dict)
    output_tokens_per_s: float = 0.0  # all successful requests' output tokens over the run's duration

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(samples: Iterable[Sample]) -> Summary:
    items = list(samples)
    if not items:
        empty = _dist([])
        return Summary(0, 0, 0.0, {}, {}, empty, empty, empty, empty, 0.0, 0.0, [], [], empty, empty, empty)
    ok = [s for s in items if s.ok]
    start = min(s.intended if s.intended is not None else s.sent for s in items)
    end = max(s.sent + s.e2e_s for s in items)
    duration = max(end - start, 1e-9)
    done = Counter(int(s.sent + s.e2e_s - start) for s in items)
    by_second: dict[int, list[float]] = {}
    for s in items:
        by_second.setdefault(int((s.intended or s.sent) - start), []).append(s.latency_s)
    streams = [s for s in ok if s.stream and s.ttft_s is not None]
    rates = [s.output_tokens / (s.e2e_s - s.ttft_s) for s in streams
             if s.output_tokens > 1 and s.ttft_s is not None and s.e2e_s > s.ttft_s]
    return Summary(
        requests=len(items), ok=len(ok), success_ratio=len(ok) / len(items),
        statuses={str(k): v for k, v in sorted(Counter(s.status for s in items).items())},
        errors=dict(Counter(s.error.split(":", 1)[0] for s in items if s.error).most_common(10)),
        latency_s=_dist([s.latency_s for s in ok]),
        ttft_s=_dist([s.ttft_s for s in streams if s.ttft_s is not None]),
        itl_s=_dist([gap for s in streams for gap in s.itl_s]),
        tokens_per_s=_dist(rates),
        duration_s=duration, rps=len(items) / duration,
        rps_series=sorted(done.items()),
        latency_series=[(sec, percentile(values, 0.95)) for sec, values in sorted(by_second.items())],
        schedule_lag_s=_dist([s.sent - s.intended for s in items if s.intended is not None]),
        prompt_tokens=_dist([float(s.prompt_tokens) for s in ok]),
        output_tokens=_dist([float(s.output_tokens) for s in ok]),
        output_tokens_per_s=sum(s.output_tokens for s in ok) / duration,
    )


def read_samples(path: Path) -> list[Sample]:
    """Samples from a JSONL file the runner wrote; a torn last line (an interrupted run) is skipped."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            out.append(Sample(**json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            continue
    return out
