"""Percentile accuracy: the mock answers after a known, recorded delay; `harness load` measures it.

Truth is the mock's own record of how long each answer waited (uniform 50-150 ms asked, timer
overshoot included). Measured P50/P95/P99 should sit within 1 ms of it (goal, issue 5); the raw
difference includes the HTTP round trip, so the round trip at zero delay, measured by the same
generator in the same run, is printed and taken off as well. Prints figures, asserts nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.load import LoadSpec, open_loop, percentile, run_load
from harness.standins.mockllm import MockControl


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-percentiles-"))
    port_file = tmp / "mock.port"
    mock = subprocess.Popen([sys.executable, "-m", "harness.standins.mockllm", "--port-file", str(port_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not port_file.exists():
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        control = MockControl(url)
        spec = LoadSpec(url=url, key="sk-bench", models=["gpt-4-turbo"], stream_ratio=0.0, warmup=False)
        base = run_load(spec, open_loop(50, 10), tmp / "round-trip")
        trip = percentile([s.latency_s for s in base.samples if s.ok], 0.5) or 0.0
        control.requests()  # the zero-delay phase is not part of the truth below
        since = control.last_seq()
        control.set("*", latency_ms=100, latency_dist="uniform", latency_spread_ms=50)
        run = run_load(spec, open_loop(50, 40), tmp / "load")
        truth = [e["delay_ms"] / 1000 for e in control.requests(since=since) if "delay_ms" in e]
        measured = [s.latency_s for s in run.samples if s.ok]
        print(f"{len(measured)} requests at 50/s, open loop; mock delay uniform 50-150 ms")
        print(f"round trip at zero delay (P50, same generator): {trip * 1000:.2f} ms")
        print(f"{'':6}{'truth (mock)':>14}{'measured':>12}{'difference':>12}{'net of round trip':>19}")
        for q in (0.5, 0.95, 0.99):
            t, m = percentile(truth, q), percentile(measured, q)
            assert t is not None and m is not None
            print(f"p{round(q * 100):<5}{t * 1000:>11.2f} ms{m * 1000:>9.2f} ms{(m - t) * 1000:>9.2f} ms"
                  f"{(m - t - trip) * 1000:>16.2f} ms")
        control.close()
    finally:
        mock.terminate()
        mock.wait(10)


if __name__ == "__main__":
    main()
