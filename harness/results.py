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

__all__ = ["NotApplicable", "Outcome", "Record", "RunResults", "Status", "new_run_dir"]


class NotApplicable(Exception):
    """A check whose subject this stack does not have (e.g. no semantic cache configured): a SKIP that
    does not block GO, reported with its reason. Any other skip blocks."""

Status = Literal["PASS", "FAIL", "SKIP", "ERROR"]


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

    @property
    def verdict(self) -> Literal["GO", "NO-GO"]:
        """GO only if something was checked and nothing failed, errored or was skipped in a way that blocks."""
        ok = all(r.status == "PASS" or (r.status == "SKIP" and not r.blocking) for r in self.records)
        return "GO" if ok and any(r.status == "PASS" for r in self.records) else "NO-GO"

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
