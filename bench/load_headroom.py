"""Generator headroom: the most requests/s `harness load` drives against the mock, next to wrk.

The mock runs on CPU 0; wrk and the load generator on CPU 1, one after the other against the same
mock, all streamed (SSE parsed as it arrives by the harness; read whole by wrk). Goal (issue 5):
harness/wrk >= 0.5 with the streaming parser on. Prints figures, asserts nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.load import LoadSpec, Profile, Stage, run_load

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"gpt-4-turbo","stream":true,"max_tokens":24,"messages":[{"role":"user","content":"hi"}]}'
"""


def main() -> None:
    os.sched_setaffinity(0, {1})  # this process and the load runner it starts share CPU 1, as wrk does
    tmp = Path(tempfile.mkdtemp(prefix="bench-headroom-"))
    port_file = tmp / "mock.port"
    mock = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "harness.standins.mockllm", "--port-file",
                             str(port_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not port_file.exists():
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        script = tmp / "stream.lua"
        script.write_text(LUA)
        out = subprocess.run(["wrk", "-t1", "-c32", "-d10s", "-s", str(script), f"{url}/v1/chat/completions"],
                             capture_output=True, text=True, check=True).stdout
        wrk_rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        spec = LoadSpec(url=url, key="sk-bench", models=["gpt-4-turbo"], stream_ratio=1.0, max_tokens=24,
                        think_time_s=(0.0, 0.0), warmup=False)
        run = run_load(spec, Profile("headroom", (Stage(10, users=32, spawn_rate=32),)), tmp / "load")
        ok = run.summary.ok / run.summary.duration_s
        print(f"wrk (1 thread, 32 connections, streamed): {wrk_rps:,.0f} req/s")
        print(f"harness load (1 process, 32 users, SSE parsed per token): {ok:,.0f} req/s "
              f"({run.summary.ok} ok of {run.summary.requests})")
        print(f"ratio harness/wrk: {ok / wrk_rps:.2f}   (goal >= 0.5)")
    finally:
        mock.terminate()
        mock.wait(10)


if __name__ == "__main__":
    main()
