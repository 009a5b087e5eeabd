"""Plots as inline SVG (matplotlib, Agg): the report opens from a file with no network and prints."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["chaos_timeline", "load_over_time", "stream_latencies"]

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3})
_PHASE_COLOURS = {"steady state": "#1f77b4", "fault on": "#d62728", "under fault": "#ff7f0e",
                  "fault off": "#2ca02c", "recovery": "#9467bd"}


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prologue: the SVG sits inline in HTML


def load_over_time(name: str, summary: dict[str, Any], errors_per_s: list[tuple[int, float]]) -> str:
    """Requests/s completed, P95 latency of the requests sent in each second, and the error ratio."""
    fig, axes = plt.subplots(3, 1, figsize=(8, 5.4), sharex=True)
    rps = summary.get("rps_series") or []
    axes[0].plot([t for t, _ in rps], [n for _, n in rps], color="#1f77b4")
    axes[0].set_ylabel("requests/s")
    lat = [(t, v) for t, v in summary.get("latency_series") or [] if v is not None]
    axes[1].plot([t for t, _ in lat], [v * 1000 for _, v in lat], color="#ff7f0e")
    axes[1].set_ylabel("P95 ms (per second)")
    axes[2].plot([t for t, _ in errors_per_s], [v * 100 for _, v in errors_per_s], color="#d62728")
    axes[2].set_ylabel("errors %")
    axes[2].set_xlabel("seconds since start")
    axes[0].set_title(f"{name}: throughput, latency and errors over time")
    return _svg(fig)


def stream_latencies(name: str, ttft_ms: list[float], itl_ms: list[float]) -> str:
    """Distributions of time to first token and of the gaps between tokens, for streamed requests."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.6))
    for axis, values, label, colour in ((axes[0], ttft_ms, "time to first token (ms)", "#2ca02c"),
                                        (axes[1], itl_ms, "inter-token latency (ms)", "#9467bd")):
        if values:
            axis.hist(values, bins=40, color=colour)
        else:
            axis.text(0.5, 0.5, "no streamed samples", ha="center", va="center", transform=axis.transAxes)
        axis.set_xlabel(label)
        axis.set_ylabel("requests" if axis is axes[0] else "gaps")
    axes[0].set_title(f"{name}: streaming", loc="left")
    return _svg(fig)


def chaos_timeline(title: str, timeline: list[dict[str, Any]]) -> str:
    """One line per event in time order, coloured by phase: fault on, failed attempts, fallback, recovery."""
    fig, axis = plt.subplots(figsize=(8, 0.35 * len(timeline) + 0.8))
    for row, event in enumerate(timeline):
        text = str(event.get("event", ""))
        colour = next((c for phase, c in _PHASE_COLOURS.items() if text.startswith(phase)), "#7f7f7f")
        axis.plot([event.get("t", 0.0)], [row], "o", color=colour)
        axis.annotate(text[:90], (event.get("t", 0.0), row), xytext=(6, -3), textcoords="offset points", fontsize=8)
    axis.set_ylim(len(timeline) - 0.5, -0.5)
    axis.set_yticks([])
    axis.set_xlabel("seconds since the case started")
    end = max((e.get("t", 0.0) for e in timeline), default=1.0)
    axis.set_xlim(-0.05 * end - 0.01, end * 1.8 + 0.1)  # room on the right for the labels
    axis.set_title(title, loc="left")
    return _svg(fig)
