"""`harness load --profile attribution`: where the gateway's CPU goes, callback by callback.

The same open-loop sweep runs against the target's own LiteLLM config, then against a copy with each
callback or hook switched off in turn (Langfuse, Prometheus, the custom hooks, the cache, custom_auth),
everything off, and the full config with more LiteLLM worker processes. Each variant gets a fresh
stack (no cache, trace queue or Redis state carried over), so the rows differ only by the variant.

Per variant: the knee (the highest rate it kept up with), and the gateway's CPU per request, measured
from outside (the process family's CPU seconds, psutil) over the rates it kept up with, so queueing
under overload does not inflate it. "saves" is the reference's CPU per request minus the variant's:
what that callback costs on every request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from harness.load.driver import LoadRun
from harness.load.profiles import Profile, sweep
from harness.providers.wiring import config_copy

__all__ = ["AGAIN", "Row", "Variant", "attribution_profile", "cpu_per_request", "noise", "print_attribution",
           "row_for", "table", "variant_config", "variants"]

_LISTS = ("callbacks", "success_callback", "failure_callback")


@dataclass(frozen=True)
class Variant:
    """A change to the config: what it switches off (`callback:<name>`, `cache`, `custom_auth`) and the
    LiteLLM worker processes it runs with."""

    name: str
    removes: tuple[str, ...] = ()
    workers: int = 1


@dataclass
class Row:
    variant: str
    removes: list[str]
    workers: int
    knee_rps: float | None
    first_saturated_rps: float | None
    cpu_ms_per_request: float | None
    saves_cpu_ms: float | None  # the reference's CPU per request minus this variant's
    p50_ms: float | None  # at the lowest rate
    requests: int
    success_ratio: float
    cpu_window: str  # which rates the CPU figure is over

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _settings(config: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    document = yaml.safe_load(config.read_text()) or {}
    return document.get("litellm_settings") or {}, document.get("general_settings") or {}


AGAIN = "reference (again)"


def variants(config: Path, workers: Sequence[int] = (1, 2, 4), *, keep_auth: bool = False,
             repeat: bool = True) -> list[Variant]:
    """The reference, each switch-off the config allows, all of them at once, the reference with more
    workers, and (`repeat`) the reference once more: how far two runs of the same config differ is the
    noise a difference has to beat. `keep_auth`: custom_auth stays (the load sends keys only it knows)."""
    settings, general = _settings(config)
    callbacks: list[str] = []
    for key in _LISTS:
        value = settings.get(key) or []
        for name in [value] if isinstance(value, str) else value:
            if isinstance(name, str) and name not in callbacks:
                callbacks.append(name)
    removable = [f"callback:{name}" for name in callbacks]
    if settings.get("cache"):
        removable.append("cache")
    if general.get("custom_auth") and not keep_auth:
        removable.append("custom_auth")
    chosen = [Variant("reference", workers=min(workers, default=1))]
    chosen += [Variant(f"without {item.removeprefix('callback:')}", (item,)) for item in removable]
    if len(removable) > 1:
        chosen.append(Variant("without all of them", tuple(removable)))
    chosen += [Variant(f"reference, {n} workers", workers=n) for n in sorted(set(workers)) if n != chosen[0].workers]
    if repeat:
        chosen.append(Variant(AGAIN, workers=chosen[0].workers))
    return chosen


def noise(rows: Sequence[Row]) -> str | None:
    """What the repeated reference says about this machine's run-to-run spread, as one line."""
    again = next((r for r in rows if r.variant == AGAIN), None)
    if again is None or not rows or again.saves_cpu_ms is None:
        return None
    return (f"the reference ran twice: CPU {rows[0].cpu_ms_per_request:g} and {again.cpu_ms_per_request:g} ms per "
            f"request, kept up to {_text(rows[0].knee_rps)} and {_text(again.knee_rps)} req/s; a saving within "
            f"±{abs(again.saves_cpu_ms):g} ms, or a knee one step apart, is within this machine's run-to-run noise")


def variant_config(config: Path, variant: Variant, folder: Path) -> Path:
    """A copy of the config's folder (its hooks beside it) with the variant's switch-offs applied."""

    def switch_off(document: dict[str, Any]) -> None:
        settings = document.setdefault("litellm_settings", {})
        for item in variant.removes:
            if item.startswith("callback:"):
                name = item.removeprefix("callback:")
                for key in _LISTS:
                    value = settings.get(key)
                    if isinstance(value, list):
                        settings[key] = [v for v in value if v != name]
                    elif value == name:
                        settings[key] = []
            elif item == "cache":
                settings["cache"] = False
                settings.pop("cache_params", None)
            elif item == "custom_auth":
                (document.get("general_settings") or {}).pop("custom_auth", None)

    return config_copy(config, folder, switch_off)


def attribution_profile(rates: Sequence[float], scale: float = 1.0) -> Profile:
    """The sweep each variant gets: rising open-loop rates (load.attribution_rates), 10 s each (scaled, at
    least 5 s)."""
    ordered = tuple(sorted(rates))
    profile = sweep(ordered, step_s=10.0).scaled(scale)
    return replace(profile, name="attribution", summary=f"open-loop rates {', '.join(f'{r:g}' for r in ordered)}"
                   f" requests/s, {profile.stages[0].until_s:g} s each")


def cpu_per_request(run: LoadRun, kept_up_to: float | None) -> tuple[float | None, str]:
    """The gateway's CPU ms per answered request over the rates it kept up with (all rates if none)."""
    stages = run.profile.stages
    last = max((i for i, s in enumerate(stages) if kept_up_to is not None and s.rate <= kept_up_to), default=None)
    upto = last if last is not None else len(stages) - 1
    window = [s for s in run.samples if s.stage <= upto and s.status]
    if not window:
        return None, "no answered request"
    # the schedule's own window: from the first intended send to the end of the last rate kept up with
    start = min(s.intended if s.intended is not None else s.sent for s in run.samples)
    seconds = run.resources.cpu_seconds(start, start + stages[upto].until_s)
    label = f"rates up to {stages[upto].rate:g}/s" if last is not None else "every rate (it kept up with none)"
    if seconds is None:
        return None, "the gateway's process was not observed"
    return round(seconds * 1000 / len(window), 2), label


def row_for(variant: Variant, run: LoadRun, knee: Callable[[LoadRun], dict[str, float | None]],
            reference_cpu_ms: float | None) -> Row:
    found = knee(run)
    cpu, window = cpu_per_request(run, found["knee_rps"])
    first = run.stages[0].latency_s["p50"] if run.stages else run.summary.latency_s["p50"]
    saves = round(reference_cpu_ms - cpu, 2) if reference_cpu_ms is not None and cpu is not None else None
    return Row(variant=variant.name, removes=list(variant.removes), workers=variant.workers,
               knee_rps=found["knee_rps"], first_saturated_rps=found["first_saturated_rps"], cpu_ms_per_request=cpu,
               saves_cpu_ms=saves, p50_ms=round(first * 1000, 1) if first is not None else None,
               requests=run.summary.requests, success_ratio=round(run.summary.success_ratio, 4), cpu_window=window)


def table(rows: Sequence[Row]) -> Table:
    """The rows for a terminal: one line per variant."""
    out = Table(title="where the gateway's CPU goes (open-loop sweep per variant, a fresh stack each)")
    for header in ("variant", "workers", "kept up to (req/s)", "first saturated", "CPU ms/request", "saves ms",
                   "P50 at lowest rate", "requests", "success"):
        out.add_column(header, justify="left" if header == "variant" else "right")
    for r in rows:
        out.add_row(r.variant, str(r.workers), _text(r.knee_rps), _text(r.first_saturated_rps),
                    _text(r.cpu_ms_per_request), _text(r.saves_cpu_ms), f"{_text(r.p50_ms)} ms", str(r.requests),
                    f"{r.success_ratio:.3f}")
    return out


def print_attribution(run_dir: Path, console: Console) -> int:
    """Prints the run's attribution table; the exit code: 0 with rows, 3 without (the run says why)."""
    path = run_dir / "attribution.json"
    if not path.exists():
        console.print(f"attribution: no rows were written; see the output above and {run_dir}", highlight=False)
        return 3
    document = json.loads(path.read_text())
    rows = [Row(**row) for row in document["rows"]]
    console.print(table(rows))
    if document.get("noise"):
        console.print(document["noise"], highlight=False)
    console.print(f"each variant: {document['profile']}; rows in {path}; report: {run_dir / 'index.html'}",
                  highlight=False)
    return 0


def _text(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
