"""The whole acceptance run on the embedded stack, stack start included: wall time and the slowest checks.

Goal (issue 4): <= 3 minutes on this 2-core machine. Prints figures, asserts nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.target import REPO


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "harness.cli", "acceptance", "--reports", tmp],
                                cwd=REPO, capture_output=True, text=True)
        wall = time.monotonic() - started
        data = json.loads((Path(tmp) / "latest" / "results.json").read_text())
    records = sorted(data["records"], key=lambda r: r["duration_s"], reverse=True)
    print(f"acceptance: {len(records)} criteria, verdict {data['verdict']} (exit {result.returncode})")
    print(f"wall time, stack start included: {wall:.1f} s (goal <= 180 s)")
    print("slowest checks: " + ", ".join(f"{r['id']} {r['duration_s']:.1f} s" for r in records[:6]))


if __name__ == "__main__":
    main()
