"""A run's samples as CSV and its summary in GuideLLM's `benchmarks.json` vocabulary, so a team can put
the harness's figures next to GuideLLM's (same keys only where they mean the same thing).

GuideLLM times latency from the actual send; so does `request_latency` here. The harness's own
verdicts (LD-4) time from the intended send in open loop: that figure is under `harness`.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.load.samples import Sample, percentile

__all__ = ["guidellm_summary", "write_csv"]

_COLUMNS = ("sent", "intended", "status", "error", "model", "stream", "stage", "worker", "e2e_s", "latency_s",
            "ttft_s", "itl_mean_s", "prompt_tokens", "output_tokens", "max_tokens")


def write_csv(samples: Sequence[Sample], path: Path) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(_COLUMNS)
        for s in samples:
            itl = sum(s.itl_s) / len(s.itl_s) if s.itl_s else None
            writer.writerow([s.sent, s.intended, s.status, s.error, s.model, s.stream, s.stage, s.worker, s.e2e_s,
                             s.latency_s, s.ttft_s, itl, s.prompt_tokens, s.output_tokens, s.max_tokens])


def _distribution(values: list[float]) -> dict[str, Any]:
    """GuideLLM's DistributionSummary fields that an exact sample set gives (nearest-rank percentiles)."""
    if not values:
        return {"count": 0}
    return {"mean": statistics.fmean(values), "median": statistics.median(values), "min": min(values),
            "max": max(values), "std_dev": statistics.pstdev(values), "count": len(values),
            "total_sum": sum(values),
            "percentiles": {f"p{q:02d}" if q < 10 else f"p{q}": percentile(values, q / 100)
                            for q in (1, 5, 10, 25, 50, 75, 90, 95, 99)}}


def guidellm_summary(name: str, samples: Sequence[Sample]) -> dict[str, Any]:
    ok = [s for s in samples if s.ok]
    streams = [s for s in ok if s.stream and s.ttft_s is not None]
    start = min((s.sent for s in samples), default=0.0)
    end = max((s.sent + s.e2e_s for s in samples), default=0.0)
    duration = max(end - start, 1e-9)
    tpot = [(s.e2e_s - (s.ttft_s or 0)) * 1000 / (s.output_tokens - 1) for s in streams if s.output_tokens > 1]
    metrics = {
        "request_totals": {"successful": len(ok), "incomplete": 0, "errored": len(samples) - len(ok),
                           "total": len(samples)},
        "requests_per_second": {"successful": {"mean": len(ok) / duration}},
        "request_latency": {"successful": _distribution([s.e2e_s for s in ok])},
        "time_to_first_token_ms": {"successful": _distribution([(s.ttft_s or 0) * 1000 for s in streams])},
        "inter_token_latency_ms": {"successful": _distribution([g * 1000 for s in streams for g in s.itl_s])},
        "time_per_output_token_ms": {"successful": _distribution(tpot)},
        "prompt_token_count": {"successful": _distribution([float(s.prompt_tokens) for s in ok])},
        "output_token_count": {"successful": _distribution([float(s.output_tokens) for s in ok])},
        "output_tokens_per_second": {"successful": {"mean": sum(s.output_tokens for s in ok) / duration}},
    }
    return {"benchmarks": [{"type_": "generative_benchmark", "name": name, "start_time": start, "end_time": end,
                            "duration": duration, "metrics": metrics,
                            "harness": {"latency_from_intended_s": _distribution([s.latency_s for s in ok])}}]}
