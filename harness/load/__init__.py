"""Load: Locust as a library in its own process, samples kept whole, percentiles exact.

`run_load(spec, PROFILES["spike"], out_dir)` runs a profile; `open_loop(rate, seconds)` and
`sweep()` build open-loop profiles whose latency counts from the intended send time.

The public names load on first use: the target model imports `harness.load.payloads`, and the
services image (stand-ins, router, bot, observer) has pydantic but not the driver's httpx-and-psutil
side, so importing this package must not import the driver.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PROFILES", "LoadRefused", "LoadRun", "LoadSpec", "Profile", "Sample", "Stage", "Summary", "check_host",
           "open_loop", "percentile", "read_samples", "run_load", "summarize", "sweep"]

_HOME = {"LoadRefused": "driver", "LoadRun": "driver", "LoadSpec": "driver", "check_host": "driver",
         "run_load": "driver", "PROFILES": "profiles", "Profile": "profiles", "Stage": "profiles",
         "open_loop": "profiles", "sweep": "profiles", "Sample": "samples", "Summary": "samples",
         "percentile": "samples", "read_samples": "samples", "summarize": "samples"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'harness.load' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"harness.load.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
