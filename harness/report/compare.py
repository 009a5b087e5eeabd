"""What changed between two runs: new failures, fixes, and measured values that moved the wrong way
by more than a tolerance (the direction comes from the criterion: a latency limit is "<", a ratio ">")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.criteria import criterion
from harness.results import Record, RunResults

__all__ = ["Change", "compare_runs"]

_HIGHER_IS_WORSE = {"<": True, "<=": True, ">": False, ">=": False}


@dataclass(frozen=True)
class Change:
    id: str
    case: str
    kind: str  # new failure, no longer verified, fixed, regression, improvement, added, missing, status changed
    before: Any
    after: Any
    detail: str = ""

    @property
    def bad(self) -> bool:
        return self.kind in ("new failure", "no longer verified", "regression", "missing")


def _load(run: Path) -> dict[tuple[str, str], Record]:
    return {(r.id, r.case): r for r in RunResults.read(run).records}


def _numbers(measured: Any) -> dict[str, float]:
    if isinstance(measured, bool):
        return {}
    if isinstance(measured, int | float):
        return {"": float(measured)}
    if isinstance(measured, dict):
        return {k: float(v) for k, v in measured.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return {}


def _in_unit(name: str, unit: str) -> bool:
    """Whether a measured field is the criterion's own quantity, so its direction applies: a latency
    criterion's `p95_s` is, the character count or HTTP status beside it is not."""
    if not name or name.replace(" ", "_") == unit.replace(" ", "_"):
        return True
    return unit in ("s", "ms") and (name.endswith(("_s", "_ms")) or name == "seconds")


def compare_runs(before: Path, after: Path, tolerance: float | None = None, floor: float | None = None
                 ) -> list[Change]:
    """Changes from run `before` to run `after`; a value regresses when it worsens by more than `tolerance`
    (relative) and more than `floor` (absolute, in the record's unit); each defaults to the catalogue's
    tolerance for that criterion."""
    old, new = _load(before), _load(after)
    changes = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is None or b is None:
            changes.append(Change(*key, "added" if a is None else "missing", a and a.status, b and b.status))
            continue
        if a.status != b.status:
            # a PASS that became a SKIP was not seen to hold any more: never counted as "nothing changed"
            kind = "new failure" if b.status in ("FAIL", "ERROR") else "no longer verified" if (
                a.status == "PASS" and b.status == "SKIP") else "fixed" if a.status in (
                "FAIL", "ERROR") and b.status == "PASS" else "status changed"
            changes.append(Change(*key, kind, a.status, b.status, b.detail))
            continue
        try:
            spec = criterion(key[0])
        except KeyError:
            continue
        higher_is_worse = _HIGHER_IS_WORSE.get(spec.op)
        if higher_is_worse is None:
            continue
        relative_limit = spec.tolerance if tolerance is None else tolerance
        absolute_limit = spec.floor if floor is None else floor
        before_n, after_n = _numbers(a.measured), _numbers(b.measured)
        for name in sorted(k for k in before_n.keys() & after_n.keys() if _in_unit(k, spec.unit)):
            x, y = before_n[name], after_n[name]
            delta = y - x
            worse = delta > 0 if higher_is_worse else delta < 0
            relative = abs(delta) / max(abs(x), 1e-12)
            if abs(delta) > absolute_limit and relative > relative_limit:
                label = f"{name}: " if name else ""
                changes.append(Change(*key, "regression" if worse else "improvement", x, y,
                                      f"{label}{x:.4g} -> {y:.4g} ({'+' if delta > 0 else ''}{relative * 100:.0f} %)"))
    return changes
