"""Mock provider throughput on one core, measured from outside with wrk, against a plain HTTP baseline.

The server is pinned to CPU 0 and wrk to CPU 1, so the figure is one core's worth of mock.
Goal (issue 2): >= 5,000 non-streaming chat completions per second. Prints figures, asserts nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = """
import sys
from harness._http import App, Response, serve
from harness._ready import announce
from pathlib import Path
app = App()
body = b'{"ok":true}'

@app.route("POST", "/v1/chat/completions")
async def fixed(request):
    return Response(200, body)

serve(app, "127.0.0.1", 0, announce(Path(sys.argv[1])))
"""

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"gpt-4-turbo","stream":%s,"messages":[{"role":"user","content":"Explain a gateway in one line"}]}'
"""


def _start(argv: list[str], port_file: Path) -> tuple[subprocess.Popen[bytes], int]:
    process = subprocess.Popen(["taskset", "-c", "0", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not port_file.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"server did not start: {argv}")
        time.sleep(0.05)
    return process, int(port_file.read_text())


def _wrk(port: int, script: Path, seconds: int = 5, connections: int = 32) -> tuple[float, str]:
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), f"http://127.0.0.1:{port}/v1/chat/completions"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, f"p99 {p99.group(1) if p99 else '?'}, non-2xx {errors.group(1) if errors else 0}"


def main() -> None:
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("wrk and taskset are needed: sudo apt-get install -y wrk util-linux")
    if (os.cpu_count() or 1) < 2:
        print("note: one CPU only; server and wrk share it")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = []
        for name, argv, stream in (
            ("plain HTTP baseline (same server, fixed body)", [sys.executable, "-c", BASELINE], "false"),
            ("mock: OpenAI chat, non-streaming", [sys.executable, "-m", "harness.standins.mockllm", "--port-file"],
             "false"),
            ("mock: OpenAI chat, SSE streaming (24 chunks)", [sys.executable, "-m", "harness.standins.mockllm",
                                                             "--port-file"], "true"),
        ):
            port_file = folder / f"{len(rows)}.port"
            script = folder / f"{len(rows)}.lua"
            script.write_text(LUA % stream)
            process, port = _start([*argv, str(port_file)], port_file)
            try:
                _wrk(port, script, seconds=1)
                rps, extra = _wrk(port, script)
            finally:
                process.terminate()
                process.wait(5)
            rows.append((name, rps, extra))
        for name, rps, extra in rows:
            print(f"{name:48s} {rps:10,.0f} req/s  ({extra})")
        print(f"mock non-streaming on one core: {rows[1][1]:,.0f} req/s "
              f"({rows[1][1] / rows[0][1]:.0%} of the baseline); goal >= 5,000")


if __name__ == "__main__":
    main()
