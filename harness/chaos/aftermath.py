"""What a fault leaves behind once it is gone: the traces of the calls made while Langfuse was away.

OBS-6 is judged twice: its burst under the fault against the plan's serving budget (the engine), then,
after the fault is off, whether every call of that burst got its trace within `OBS-6.recover_s`. A trace
that never arrives is counted, never assumed: the criterion's threshold is how many may be lost (none).
"""

from __future__ import annotations

import time

from harness.chaos.probe import ProbeResult
from harness.results import Outcome
from harness.stack import Stack

__all__ = ["traces_after_recovery"]


def traces_after_recovery(stack: Stack, burst: list[ProbeResult], outcome: Outcome, fault_off: float, *,
                          outage_s: float) -> None:
    """Waits for each answered call's trace; adds the count lost to `outcome` (and fails it when over)."""
    langfuse = stack.langfuse()
    assert langfuse is not None  # OBS-6 needs Langfuse (the catalogue)
    limit = stack.target.threshold("OBS-6.recover_s")
    wanted = {r.trace_id for r in burst if r.status == 200}
    arrived: dict[str, float] = {}
    try:
        while wanted - arrived.keys() and time.monotonic() - fault_off < limit:
            for trace_id in sorted(wanted - arrived.keys()):
                if langfuse.trace(trace_id) is not None:
                    arrived[trace_id] = round(time.monotonic() - fault_off, 3)
            time.sleep(0.5)
    finally:
        langfuse.close()
    lost = len(wanted - arrived.keys())
    allowed = stack.target.threshold("OBS-6")
    latest = max(arrived.values(), default=0.0)
    outcome.evidence.update(traces_expected=len(wanted), traces_lost=lost, traces_arrived_after_s=latest,
                            outage_s=round(outage_s, 1))
    outcome.measured = {"burst": outcome.measured, "traces_lost": lost}
    outcome.threshold = {"burst": outcome.threshold, "traces_lost": allowed}
    part = (f"all {len(wanted)} traces arrived within {latest:.1f} s of recovery" if not lost else
            f"{lost} of {len(wanted)} traces of calls made during the outage never arrived (waited {limit:g} s "
            f"after recovery)") + f" from a {outage_s:.1f} s outage"
    outcome.detail = f"{outcome.detail}; {part}"
    outcome.passed = outcome.passed and stack.target.meets("OBS-6", lost)
