"""Percentiles are exact on the raw samples, where Locust's buckets would decide "P95 < 3 s" wrongly."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from harness.checks import load as checks
from harness.load import PROFILES, LoadRun, Sample, percentile, read_samples, summarize
from harness.load.resources import ResourceSamples
from harness.target import Target


@given(st.lists(st.floats(min_value=0, max_value=1e4, allow_nan=False), min_size=1, max_size=300),
       st.sampled_from([0.5, 0.9, 0.95, 0.99]))
def test_percentile_is_nearest_rank(values: list[float], q: float) -> None:
    result = percentile(values, q)
    at_or_below = sum(1 for v in values if v <= result)
    assert result in values and at_or_below >= math.ceil(q * len(values))
    assert sum(1 for v in values if v < result) < math.ceil(q * len(values))


def _run(latencies: list[float], statuses: list[int] | None = None) -> LoadRun:
    statuses = statuses or [200] * len(latencies)
    samples = [Sample(sent=float(i), status=code, e2e_s=lat, error="" if code == 200 else f"HTTP {code}")
               for i, (lat, code) in enumerate(zip(latencies, statuses, strict=True))]
    return LoadRun(PROFILES["steady"], summarize(samples), ResourceSamples(pid=1), Path("."), 0, False, samples)


def test_a_p95_of_2960_ms_passes_where_locust_would_print_3000() -> None:
    # Locust rounds 1-10 s to the nearest 100 ms: this run's P95 would read 3000 and fail "< 3 s"
    run = _run([1.0] * 94 + [2.96] * 6)
    outcome = checks.latency(run, Target.embedded())
    assert outcome.passed and outcome.measured["p95_ms"] == 2960.0


def test_a_p95_of_3040_ms_fails_where_locust_would_print_3000() -> None:
    outcome = checks.latency(_run([1.0] * 94 + [3.04] * 6), Target.embedded())
    assert not outcome.passed and outcome.measured["p95_ms"] == 3040.0


def test_failures_count_against_success_and_5xx_against_health() -> None:
    run = _run([0.1] * 100, [200] * 98 + [500, 429])
    assert not checks.success(run, Target.embedded(), "LD-1").passed  # 0.98 is not > 0.99
    health = checks.health(run, Target.embedded())
    assert not health.passed and health.measured["5xx"] == 1


def test_a_gateway_restart_fails_health() -> None:
    run = _run([0.1] * 10)
    run.resources.restarts = 1
    assert not checks.health(run, Target.embedded()).passed


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps({"sent": 1.0, "status": 200, "e2e_s": 0.1}) + "\n{\"sent\": 2.0, \"sta")
    assert [s.e2e_s for s in read_samples(path)] == [0.1]


def test_gevent_never_patches_the_test_process() -> None:
    """Locust lives in the runner process; here the standard library must stay unpatched."""
    import socket
    import sys

    assert "locust" not in sys.modules and "gevent.monkey" not in sys.modules
    assert socket.socket.__module__ == "socket"
