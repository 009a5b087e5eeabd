"""Load: Locust as a library in its own process, samples kept whole, percentiles exact.

`run_load(spec, PROFILES["spike"], out_dir)` runs a profile; `open_loop(rate, seconds)` and
`sweep()` build open-loop profiles whose latency counts from the intended send time.
"""

from harness.load.driver import LoadRefused, LoadRun, LoadSpec, check_host, run_load
from harness.load.profiles import PROFILES, Profile, Stage, open_loop, sweep
from harness.load.samples import Sample, Summary, percentile, read_samples, summarize

__all__ = ["PROFILES", "LoadRefused", "LoadRun", "LoadSpec", "Profile", "Sample", "Stage", "Summary", "check_host",
           "open_loop", "percentile", "read_samples", "run_load", "summarize", "sweep"]
