"""Generator headroom: the most requests/s `harness load` drives against the mock, next to wrk, with a
short prompt and with request bodies of 1 KB and 32 KB.

The mock runs on CPU 0; wrk and the load generator on CPU 1, one after the other against the same
mock, all streamed (SSE parsed as it arrives by the harness; read whole by wrk). A bigger body costs
the generator JSON encoding and socket writes, and the mock parsing and counting tokens, so both
tools slow down; the ratio says whether the harness's generator is still not the limit. Goal (issue 5):
harness/wrk >= 0.5 with the streaming parser on. Prints figures, asserts nothing.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.load import LoadSpec, Profile, Stage, run_load
from harness.load.payloads import synth_prompt

SIZES = {"short (2 B)": "hi", "1 KB": 1024, "32 KB": 32 * 1024}


def _prompt(size: int | str) -> str:
    if isinstance(size, str):
        return size
    text = synth_prompt(size // 3, random.Random(size), "bench")  # common words: ~3 bytes a token with spaces
    return text[:size]


def _wrk(url: str, prompt: str, folder: Path) -> float:
    body = json.dumps({"model": "gpt-4-turbo", "stream": True, "max_tokens": 24,
                       "messages": [{"role": "user", "content": prompt}]})
    script = folder / "stream.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      'wrk.headers["Authorization"] = "Bearer sk-bench"\n'
                      f"wrk.body = {json.dumps(body)}\n")
    out = subprocess.run(["wrk", "-t1", "-c32", "-d10s", "-s", str(script), f"{url}/v1/chat/completions"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


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
        print(f"{'request body':<14} {'wrk req/s':>10} {'harness req/s':>14} {'ok/sent':>12} {'harness/wrk':>12}")
        for label, size in SIZES.items():
            prompt = _prompt(size)
            wrk_rps = _wrk(url, prompt, tmp)
            spec = LoadSpec(url=url, key="sk-bench", models=["gpt-4-turbo"], prompts=[prompt], stream_ratio=1.0,
                            max_tokens=24, think_time_s=(0.0, 0.0), warmup=False)
            run = run_load(spec, Profile("headroom", (Stage(10, users=32, spawn_rate=32),)), tmp / label[:5])
            ok = run.summary.ok / run.summary.duration_s
            print(f"{label:<14} {wrk_rps:>10,.0f} {ok:>14,.0f} {run.summary.ok:>6}/{run.summary.requests:<5} "
                  f"{ok / wrk_rps:>12.2f}", flush=True)
        print("wrk: 1 thread, 32 connections, body read whole; harness: 1 Locust process, 32 users, SSE parsed "
              "per token. Goal harness/wrk >= 0.5")
    finally:
        mock.terminate()
        mock.wait(10)


if __name__ == "__main__":
    main()
