"""What a longer prompt costs the embedded stack: CPU per request of the gateway, the provider mock and the
Langfuse stand-in, and latency, at one open-loop rate below the knee, for prompts from a short sentence to
32,000 tokens (answers fixed at 16 tokens, so only the prompt varies).

Issue 21 expected a 2,000-token prompt to lower the knee (the escalation hook tokenizes every default-model
input, the rate limiter estimates tokens, Langfuse logs the whole body). This measures each of those costs
as they add up on one stack: if CPU per request rises with the prompt, the knee (about cores / CPU per
request) falls with it. One stack for every size (quota_scale 1: long prompts to gpt-4o spend money), the
sizes run in turn, twice, so the spread between the two passes is the noise a difference has to beat.
Prints figures, asserts nothing. `--rate` and `--seconds` change the load; `--sizes` the prompt lengths.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.load import run_load
from harness.load.plan import spec_for
from harness.load.profiles import sweep
from harness.load.resources import ResourceMonitor, ResourceSamples
from harness.providers.local import LocalProvider
from harness.target import Target

WATCHED = ("litellm", "mockllm", "langfuse")


def _spent_s(samples: ResourceSamples) -> float:
    """CPU seconds the watched family used while its monitor ran (the monitor counts every pid it saw)."""
    return max((point.get("cpu_s", 0.0) for point in samples.series), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=8.0, help="requests/s, open loop (below the knee)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sizes", default="0,500,2000,8000,32000", help="prompt tokens; 0 = the default prompts")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--model", default="gpt-4o-mini", help="an alias of the reference config")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-prompt-") as tmp:
        target = Target.embedded().model_copy(update={"quota_scale": 1.0})
        provider = LocalProvider(target, Path(tmp) / "run", postgres=False)
        stack = provider.start()
        try:
            pids = {name: pid for name, pid in stack.pids.items() if name in WATCHED}
            print(f"embedded stack, {args.model}, {args.rate:g} req/s open loop for {args.seconds:g} s per size, "
                  f"max_tokens 16; CPU ms per answered request of: {', '.join(pids)}")
            header = f"{'prompt tokens':>13} {'pass':>4} {'ok/sent':>9} " + \
                " ".join(f"{name + ' ms':>12}" for name in pids) + f" {'P50 ms':>8} {'P95 ms':>8}"
            print(header)
            rows: dict[int, list[float]] = {size: [] for size in sizes}
            # unrecorded: the first run on a fresh gateway cost ~7 ms more per request than the same run later
            run_load(spec_for(stack, output_tokens="16"), sweep((args.rate,), step_s=10.0), Path(tmp) / "warm")
            for attempt in range(1, args.passes + 1):
                for size in sizes:
                    spec = spec_for(stack, prompt_tokens=str(size) if size else None,
                                    output_tokens="16")
                    spec = replace(spec, models=[args.model], model_weights=(), stream_ratio=0.5)
                    with ExitStack() as watching:
                        monitors = {name: watching.enter_context(ResourceMonitor(pid, 0.5))
                                    for name, pid in pids.items()}
                        run = run_load(spec, sweep((args.rate,), step_s=args.seconds),
                                       Path(tmp) / f"{size}-{attempt}")
                    spent = {name: _spent_s(samples) for name, samples in monitors.items()}
                    answered = sum(1 for s in run.samples if s.status and s.status < 400) or 1
                    per = {name: spent[name] * 1000 / answered for name in pids}
                    rows[size].append(per.get("litellm", 0.0))
                    latency = run.summary.latency_s
                    print(f"{size or 'default':>13} {attempt:>4} {answered:>4}/{run.summary.requests:<4} "
                          + " ".join(f"{per[name]:>12.1f}" for name in pids)
                          + f" {latency['p50'] * 1000:>8.0f} {latency['p95'] * 1000:>8.0f}", flush=True)
                    time.sleep(2)  # the trace queue drains between sizes
        finally:
            provider.stop()
    base = statistics.mean(rows[sizes[0]])
    spread = max((max(v) - min(v) for v in rows.values() if len(v) > 1), default=0.0)
    noise = f"passes of one size differ by up to {spread:.1f} ms" if args.passes > 1 else "one pass: unknown"
    print(f"gateway CPU per request, mean of passes (noise: {noise}):")
    for size in sizes:
        mean = statistics.mean(rows[size])
        print(f"  {size or 'default':>7} tokens: {mean:6.1f} ms ({mean - base:+.1f} ms against {sizes[0] or 'default'})"
              f"; one core keeps up with ~{1000 / mean:.0f} req/s of it")


if __name__ == "__main__":
    main()
