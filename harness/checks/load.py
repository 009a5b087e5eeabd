"""LD-1..LD-6: verdicts on load runs (VPS plan slice 12, the Fly.io plan's P95), thresholds from the target.

Latency percentiles are of successful requests, end to end, from the intended send time in open
loop; failures are judged by the success ratio and by LD-5's "no 5xx".
"""

from __future__ import annotations

from harness.load.driver import LoadRun
from harness.load.overhead import Overhead
from harness.results import Outcome
from harness.target import Target

__all__ = ["health", "knee", "latency", "overhead", "success"]


def _ms(value: float | None) -> float | None:
    return round(value * 1000, 1) if value is not None else None


def success(run: LoadRun, target: Target, ident: str) -> Outcome:
    """LD-1/LD-2/LD-3: the profile's success ratio against the plan's limit."""
    limit = target.threshold(ident)
    s = run.summary
    ok = s.requests > 0 and target.meets(ident, s.success_ratio) and not run.interrupted
    failed = {code: n for code, n in s.statuses.items() if code != "200"}
    detail = f"{s.ok}/{s.requests} requests succeeded over {s.duration_s:.0f} s at {s.rps:.1f} req/s"
    if failed:
        detail += f"; failures by status {failed}"
    if run.interrupted:
        detail += "; the run was interrupted (partial results)"
    if s.requests == 0:
        detail = "no request completed"
    return Outcome(id=ident, case=run.profile.name, passed=ok, measured=round(s.success_ratio, 5),
                   threshold=f"> {limit}", unit="ratio", detail=detail,
                   evidence={"statuses": s.statuses, "errors": s.errors, "workers": run.workers})


def latency(run: LoadRun, target: Target) -> Outcome:
    """LD-4: P95 end to end under the profile, with TTFT and inter-token latency of streams beside it."""
    limit = target.threshold("LD-4")
    s = run.summary
    p95 = s.latency_s["p95"]
    measured = {"p50_ms": _ms(s.latency_s["p50"]), "p95_ms": _ms(p95), "p99_ms": _ms(s.latency_s["p99"]),
                "ttft_p95_ms": _ms(s.ttft_s["p95"]), "itl_p95_ms": _ms(s.itl_s["p95"])}
    ok = p95 is not None and target.meets("LD-4", p95)
    detail = (f"P95 {p95 * 1000:.1f} ms over {s.ok} successful requests (exact, nearest rank)"
              if p95 is not None else "no successful request to measure")
    if run.profile.arrival != "closed":
        detail += f"; timed from the intended send time, schedule lag P95 {_ms(s.schedule_lag_s['p95'])} ms"
    return Outcome(id="LD-4", case=run.profile.name, passed=ok, measured=measured, threshold=f"P95 < {limit} s",
                   unit="ms", detail=detail)


def health(run: LoadRun, target: Target) -> Outcome:
    """LD-5: no 5xx answers, the gateway process never restarted, machine memory stayed below the limit."""
    limit = target.threshold("LD-5")
    fives = sum(n for code, n in run.summary.statuses.items() if code.startswith("5"))
    res = run.resources
    problems = []
    if fives:
        problems.append(f"{fives} answers with 5xx")
    if res.restarts:
        problems.append(f"the gateway process went away {res.restarts} time(s)")
    peak = res.peak_mem_percent if res.pid is not None else None
    if peak is not None and not target.meets("LD-5", peak):
        problems.append(f"machine memory reached {peak:.1f} %")
    measured = {"5xx": fives, "restarts": res.restarts if res.pid else None, "peak_mem_percent": peak,
                "gateway_peak_rss_mb": res.peak_rss_mb, "gateway_mean_cpu_percent": res.mean_cpu_percent}
    if res.pid is None:
        measured.update(restarts=None, peak_mem_percent=None)
    detail = "; ".join(problems) or "no 5xx, no restart, memory within the limit"
    if res.pid is None:  # an external gateway's process and machine are not visible from here
        detail += "; restarts and memory not observed (external target): watch them in its own monitoring"
    return Outcome(id="LD-5", case=run.profile.name, passed=not problems, measured=measured,
                   threshold={"5xx": 0, "restarts": 0, "mem_percent": f"< {limit}"}, detail=detail)


def overhead(result: Overhead, target: Target) -> Outcome:
    """LD-6: P50 and P95 the gateway adds over the provider called directly, next to its own header."""
    p50_limit, p95_limit = target.threshold("LD-6"), target.threshold("LD-6.p95")
    added = result.added_ms
    ok = (added["p50"] is not None and added["p95"] is not None and added["p50"] <= p50_limit
          and added["p95"] <= p95_limit and not any(result.failures.values()))
    measured = {"added_p50_ms": _round(added["p50"]), "added_p95_ms": _round(added["p95"]),
                "header_p50_ms": _round(result.header_ms["p50"])}
    detail = (f"direct P50 {_round(result.direct_ms['p50'])} ms, through the gateway "
              f"{_round(result.gateway_ms['p50'])} ms over {result.pairs} interleaved pairs; "
              f"x-litellm-overhead-duration-ms claims {_round(result.header_ms['p50'])} ms")
    if any(result.failures.values()):
        detail += f"; failed calls {result.failures}"
    return Outcome(id="LD-6", passed=ok, measured=measured, unit="ms",
                   threshold={"added_p50_ms": p50_limit, "added_p95_ms": p95_limit}, detail=detail,
                   evidence={"direct_ms": result.direct_ms, "gateway_ms": result.gateway_ms,
                             "header_ms": result.header_ms})


def knee(run: LoadRun) -> dict[str, float | None]:
    """Sweep: the highest offered rate the gateway kept up with (≥ 90 % of it completed per second, ≥ 99 %
    success, P95 within 3x the first step's), and the first rate it did not."""
    kept, broke = None, None
    base = None
    for stage, summary in zip(run.profile.stages, run.stages, strict=False):
        p95 = summary.latency_s["p95"]
        base = base if base is not None else p95
        span = stage.until_s - (run.profile.stages[run.profile.stages.index(stage) - 1].until_s
                                if run.profile.stages.index(stage) else 0.0)
        achieved = summary.ok / span if span else 0.0
        fine = (achieved >= 0.9 * stage.rate and summary.success_ratio >= 0.99 and p95 is not None
                and base is not None and p95 <= 3 * max(base, 0.005))
        if fine and broke is None:
            kept = stage.rate
        elif not fine and broke is None:
            broke = stage.rate
    return {"knee_rps": kept, "first_saturated_rps": broke}


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None
