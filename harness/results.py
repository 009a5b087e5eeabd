"""Criterion records and the run's results file: what was measured against what was required.

Every check ends as one `Record` (PASS, FAIL, SKIP with a reason, or ERROR); a run writes them
all to `reports/<run-id>/results.json` and points `reports/latest` at it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from harness.criteria import criterion
from harness.spend import SpendSummary

__all__ = ["ABORTED", "NotApplicable", "Outcome", "Record", "RunResults", "Status", "new_run_dir", "plain"]


ABORTED = "aborted.txt"  # in a run folder: why the run stopped before any check (the CLI's one line)


class NotApplicable(Exception):
    """A check whose subject this stack does not have (e.g. no semantic cache configured): a SKIP that
    does not block GO, reported with its reason. Any other skip blocks."""

Status = Literal["PASS", "FAIL", "SKIP", "ERROR"]


def plain(value: Any) -> str:
    """A measured value or threshold in words: numbers to 4 digits, dicts as `key: value, ...`."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return str(value)


class Outcome(BaseModel):
    """What a check found. `passed` is the verdict; `detail` says why in one line."""

    id: str
    passed: bool
    case: str = Field("", description="which case of the criterion, e.g. 'gpt-4 / refused'")
    measured: Any = None
    threshold: Any = None
    unit: str = ""
    detail: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        measured = f"measured {self.measured}{(' ' + self.unit) if self.unit else ''}"
        case = f" [{self.case}]" if self.case else ""
        return f"{self.id}{case} {'PASS' if self.passed else 'FAIL'}: {measured} vs {self.threshold}; {self.detail}"


class Record(BaseModel):
    id: str
    case: str = ""
    title: str
    source: str
    status: Status
    measured: Any = None
    threshold: Any = None
    unit: str = ""
    detail: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    duration_s: float = 0.0
    test: str = ""
    blocking: bool = True

    def measured_vs_threshold(self) -> str:
        """One line: what was measured against what was required, in words."""
        measured = f"{plain(self.measured)} {self.unit}".strip() if self.measured is not None else "not measured"
        return measured if self.threshold is None else f"{measured} (required: {plain(self.threshold)})"

    @classmethod
    def from_outcome(cls, outcome: Outcome, status: Status, duration_s: float, test: str) -> Record:
        crit = criterion(outcome.id)
        return cls(id=outcome.id, case=outcome.case, title=crit.title, source=crit.source, status=status,
                   measured=outcome.measured,
                   threshold=outcome.threshold, unit=outcome.unit, detail=outcome.detail,
                   evidence=outcome.evidence, duration_s=duration_s, test=test)


class RunResults(BaseModel):
    run_id: str
    started: str
    finished: str | None = None
    suite: str = "acceptance"
    target: str = ""
    provider: str = ""
    standins: list[str] = Field(default_factory=list)
    versions: dict[str, str] = Field(default_factory=dict)
    machine: dict[str, str] = Field(default_factory=lambda: {"python": platform.python_version(),
                                                             "platform": platform.platform(),
                                                             "cpus": str(os.cpu_count())})
    records: list[Record] = Field(default_factory=list)
    deviations: list[str] = Field(default_factory=list, description="where the target's plan differs from the seeds")
    preview: str = Field("", description="what the run was to do, said before it started (harness.preview)")
    spend: SpendSummary | None = Field(None, description="the LLM calls the harness itself sent, and their cost")
    stopped: str | None = Field(None, description="why the run stopped before its end (the spend guard)")
    diagnostic: str | None = Field(None, description="a run that measures without judging a criterion (load "
                                   "attribution): what it measured; it has no verdict")

    @property
    def verdict(self) -> Literal["GO", "NO-GO"]:
        """GO only if something was checked and nothing failed, errored or was skipped in a way that blocks."""
        ok = all(r.status == "PASS" or (r.status == "SKIP" and not r.blocking) for r in self.records)
        return "GO" if ok and not self.stopped and any(r.status == "PASS" for r in self.records) else "NO-GO"

    def reasons(self) -> list[str]:
        """Why the verdict is NO-GO, one line per record that blocks it (failures first); empty on GO."""
        if self.verdict == "GO":
            return []
        order = {"FAIL": 0, "ERROR": 1, "SKIP": 2}
        blocking = sorted((r for r in self.records if r.status in ("FAIL", "ERROR") or
                           (r.status == "SKIP" and r.blocking)), key=lambda r: order.get(r.status, 3))
        lines = [f"{r.id}{f' [{r.case}]' if r.case else ''} {r.status}: {r.detail or 'no detail'}" for r in blocking]
        if self.stopped:
            lines.insert(0, f"the run stopped before its end: {self.stopped}")
        return lines or ["nothing was verified: no criterion passed"]

    def coverage(self) -> str:
        """How much was verified: criteria that passed, against the criteria this run recorded."""
        ids = {r.id for r in self.records}
        passed = {r.id for r in self.records if r.status == "PASS"} - {r.id for r in self.records
                                                                       if r.status in ("FAIL", "ERROR")}
        unseen = sorted({r.id for r in self.records if r.status == "SKIP"} - passed)
        line = f"{len(passed)} of {len(ids)} criteria verified"
        return line + (f"; not observed: {', '.join(unseen)}" if unseen else "")

    @classmethod
    def read(cls, run: Path) -> RunResults:
        """A run's results, from its folder or its results.json: the one reader of the CLI, report and compare."""
        path = run / "results.json" if run.is_dir() else run
        if not path.exists():
            raise FileNotFoundError(f"{run}: no results.json; give a run folder under reports/")
        return cls.model_validate_json(path.read_text())

    def write(self, run_dir: Path) -> Path:
        self.finished = datetime.now(UTC).isoformat(timespec="seconds")
        path = run_dir / "results.json"
        data = self.model_dump()
        data["verdict"] = self.verdict
        data["reasons"] = self.reasons()
        data["coverage"] = self.coverage()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str))
        os.replace(tmp, path)
        latest = run_dir.parent / "latest"
        if latest.is_symlink() or not latest.exists():
            tmp_link = run_dir.parent / f".latest-{os.getpid()}"
            tmp_link.unlink(missing_ok=True)
            tmp_link.symlink_to(run_dir.name)
            os.replace(tmp_link, latest)
        return path


def new_run_dir(reports: Path, suite: str) -> Path:
    """`reports/<UTC time>-<suite>-<pid>`: sortable, unique per process."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = reports / f"{stamp}-{suite}-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path
