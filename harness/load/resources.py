"""Samples the gateway process while load runs: RSS, CPU, the machine's memory, and restarts.

A restart is the watched process gone or replaced (a new start time under the same pid); its
children (LiteLLM's uvicorn workers) are counted in RSS and CPU.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil

__all__ = ["ResourceMonitor", "ResourceSamples"]


@dataclass
class ResourceSamples:
    pid: int | None
    series: list[dict[str, float]] = field(default_factory=list)  # t, rss_mb, cpu_percent, mem_percent
    restarts: int = 0
    gone: bool = False

    @property
    def peak_rss_mb(self) -> float | None:
        return max((s["rss_mb"] for s in self.series), default=None)

    @property
    def peak_mem_percent(self) -> float | None:
        return max((s["mem_percent"] for s in self.series), default=None)

    @property
    def mean_cpu_percent(self) -> float | None:
        values = [s["cpu_percent"] for s in self.series[1:]]  # the first CPU reading has no interval
        return sum(values) / len(values) if values else None


class ResourceMonitor:
    """`with ResourceMonitor(pid) as samples:` samples every `interval_s` on a daemon thread."""

    def __init__(self, pid: int | None, interval_s: float = 1.0) -> None:
        self.samples = ResourceSamples(pid)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-monitor", daemon=True)

    def __enter__(self) -> ResourceSamples:
        self._thread.start()
        return self.samples

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        started = time.monotonic()
        process, born = self._attach()
        while not self._stop.is_set():
            point = {"t": round(time.monotonic() - started, 2), "mem_percent": psutil.virtual_memory().percent,
                     "rss_mb": 0.0, "cpu_percent": 0.0}
            if process is not None:
                try:
                    if process.create_time() != born:
                        raise psutil.NoSuchProcess(process.pid)
                    family = [process, *process.children(recursive=True)]
                    point["rss_mb"] = round(sum(p.memory_info().rss for p in family) / 2**20, 1)
                    point["cpu_percent"] = round(sum(_cpu(p) for p in family), 1)
                except psutil.NoSuchProcess:
                    self.samples.restarts += 1
                    self.samples.gone = True
                    process, born = self._attach()
            self.samples.series.append(point)
            self._stop.wait(self.interval_s)

    def _attach(self) -> tuple[psutil.Process | None, float]:
        if self.samples.pid is None:
            return None, 0.0
        try:
            process = psutil.Process(self.samples.pid)
            return process, process.create_time()
        except psutil.NoSuchProcess:
            return None, 0.0


_cpu_cache: dict[int, psutil.Process] = {}


def _cpu(process: psutil.Process) -> float:
    """CPU percent since the last reading of the same process (psutil keeps the previous times per object)."""
    cached = _cpu_cache.setdefault(process.pid, process)
    return cached.cpu_percent(None)
