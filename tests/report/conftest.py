"""A run folder as a real run leaves it (results, load samples, overhead, a chaos timeline), built
from data, so report tests do not need a stack."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path

import pytest

from harness.load import PROFILES, LoadRun, Sample, summarize
from harness.load.resources import ResourceSamples
from harness.results import Outcome, Record, RunResults

SECRET = "sk-master-0123456789abcdef0123"


def write_run(folder: Path, p95_s: float = 1.2, cache_ok: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    results = RunResults(run_id=folder.name, started="2026-11-22T00:00:00+00:00", suite="acceptance",
                         target="test", provider="local", standins=["langfuse: harness stand-in"],
                         versions={"litellm": "1.103.0"})
    outcomes = [
        (Outcome(id="GW-1", passed=True, measured=0.03, threshold=60.0, unit="s", detail="ready"), "PASS"),
        (Outcome(id="CA-1", passed=cache_ok, measured=0.05 if cache_ok else 0.4, threshold=0.1, unit="s",
                 detail=f"hit; the request carried Bearer {SECRET}", evidence={"key": SECRET}),
         "PASS" if cache_ok else "FAIL"),
        (Outcome(id="CA-2", passed=False, detail="not applicable: no semantic cache"), "SKIP"),
        (Outcome(id="LD-4", passed=p95_s < 3, case="steady", measured={"p95_ms": p95_s * 1000}, threshold="< 3 s",
                 unit="ms"), "PASS" if p95_s < 3 else "FAIL"),
        (Outcome(id="FB-2", passed=True, case="gpt-4 > claude-3 / refused", measured=0.08, threshold=5.0, unit="s",
                 evidence={"timeline": [{"t": 0.0, "event": "steady state: request to gpt-4"},
                                        {"t": 0.4, "event": "fault on: gpt-4 refused"},
                                        {"t": 0.5, "event": "under fault: answered by claude-3 after 0.08 s"},
                                        {"t": 0.9, "event": "fault off"}],
                           "latency": {"scenario": "primary-failure", "variant": "refused", "steady_s": 0.041,
                                       "requests": 1, "p50_s": 0.08, "p95_s": 0.08, "worst_s": 0.08}}), "PASS"),
    ]
    for outcome, status in outcomes:
        record = Record.from_outcome(outcome, status, 0.1, f"suites/x.py::{outcome.id}")  # type: ignore[arg-type]
        record.blocking = status != "SKIP"
        results.records.append(record)
    results.write(folder)
    rng = random.Random(1)
    samples = [Sample(sent=1000 + i * 0.05, status=200 if i % 50 else 500, e2e_s=rng.uniform(0.05, p95_s),
                      stream=bool(i % 2), ttft_s=0.02 if i % 2 else None, itl_s=[0.001, 0.002] if i % 2 else [],
                      output_tokens=3, error="" if i % 50 else "HTTP 500") for i in range(400)]
    run = LoadRun(PROFILES["steady"], summarize(samples), ResourceSamples(pid=1, series=[
        {"t": 0.0, "rss_mb": 300.0, "cpu_percent": 50.0, "mem_percent": 10.0}]), folder, 0, False, samples)
    (folder / "load" / "steady").mkdir(parents=True)
    (folder / "load" / "steady" / "samples.jsonl").write_text("\n".join(json.dumps(asdict(s)) for s in samples))
    (folder / "load.json").write_text(json.dumps({"steady": run.as_dict()}))
    (folder / "overhead.json").write_text(json.dumps({
        "pairs": 10, "direct_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0}, "gateway_ms": {"p50": 20.0, "p95": 25.0,
                                                                                        "p99": 30.0},
        "added_ms": {"p50": 19.0, "p95": 23.0, "p99": 27.0}, "header_ms": {"p50": 5.0, "p95": 6.0, "p99": 7.0},
        "failures": {}}))
    return folder


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    return write_run(tmp_path / "reports" / "20261122T000000Z-acceptance-1")
