"""Cold start of the embedded stack: seconds until every service is ready, and LiteLLM's share.

Goal (issue 2): the whole stack ready in <= 15 s on a 2-core machine. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from harness.providers.local import LocalProvider
from harness.target import Target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    totals, litellm = [], []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            provider = LocalProvider(Target.embedded(), Path(tmp))
            started = time.monotonic()
            stack = provider.start()
            ready = time.monotonic() - started
            provider.stop()
        startup = stack.startup_s
        totals.append(ready)
        litellm.append(startup["litellm"])
        services = "  ".join(f"{k}={v:.2f}" for k, v in startup.items() if k != "total")
        print(f"run {run}: all ready in {ready:.2f} s  ({services})")
    print(f"cold start: median {statistics.median(totals):.2f} s, max {max(totals):.2f} s over {args.runs} runs; "
          f"LiteLLM alone median {statistics.median(litellm):.2f} s "
          f"({statistics.median(litellm) / statistics.median(totals):.0%} of the total); goal <= 15 s")


if __name__ == "__main__":
    main()
