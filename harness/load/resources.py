"""Samples the gateway process while load runs: RSS, CPU, the machine's memory, and restarts.

A restart is the watched process gone or replaced (a new start time under the same pid); its
children (LiteLLM's uvicorn workers) are counted in RSS and CPU. Each point also carries the family's
CPU seconds since the run began (`cpu_s`, every process ever seen counted once) and the wall clock
(`at`), so the CPU a window of samples cost can be read back: `cpu_seconds(start, end)`.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from dataclasses import dataclass, field

import psutil

__all__ = ["ResourceMonitor", "ResourceSamples"]


@dataclass
class ResourceSamples:
    pid: int | None
    series: list[dict[str, float]] = field(default_factory=list)  # t, at, rss_mb, cpu_percent, cpu_s, mem_percent
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

    def cpu_seconds(self, start: float, end: float) -> float | None:
        """CPU seconds the watched family used between two wall-clock times (epoch s), read off the cumulative
        series and interpolated between points; None without a process or points spanning the window."""
        points = [(p["at"], p["cpu_s"]) for p in self.series if "cpu_s" in p]
        if self.pid is None or len(points) < 2 or start < points[0][0] - 1.5 or end > points[-1][0] + 1.5:
            return None
        return max(0.0, _at(points, end) - _at(points, start))


def _at(points: list[tuple[float, float]], when: float) -> float:
    """The cumulative value at `when`, linear between the two points around it (clamped at the ends)."""
    if when <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if when <= t1:
            return v0 + (v1 - v0) * ((when - t0) / (t1 - t0) if t1 > t0 else 1.0)
    return points[-1][1]


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
        # CPU seconds per process (pid, start time), the first reading as its baseline: a worker that exits
        # keeps what it used, one that starts mid-run counts from its start
        used: dict[tuple[int, float], float] = {}
        baseline: dict[tuple[int, float], float] = {}
        while not self._stop.is_set():
            point = {"t": round(time.monotonic() - started, 2), "at": round(time.time(), 3),
                     "mem_percent": psutil.virtual_memory().percent, "rss_mb": 0.0, "cpu_percent": 0.0}
            if process is not None:
                try:
                    if process.create_time() != born:
                        raise psutil.NoSuchProcess(process.pid)
                    family = [process, *process.children(recursive=True)]
                    point["rss_mb"] = round(sum(p.memory_info().rss for p in family) / 2**20, 1)
                    point["cpu_percent"] = round(sum(_cpu(p) for p in family), 1)
                    first = not baseline
                    for member in family:
                        with contextlib.suppress(psutil.NoSuchProcess):
                            ident, times = (member.pid, member.create_time()), member.cpu_times()
                            used[ident] = times.user + times.system
                            baseline.setdefault(ident, used[ident] if first else 0.0)
                    point["cpu_s"] = round(sum(used[i] - baseline[i] for i in used), 4)
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
