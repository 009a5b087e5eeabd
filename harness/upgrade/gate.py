"""The upgrade gate: the same suites, target and config on the pinned LiteLLM and on each candidate, diffed.

Each run is a child `harness <suite>` with `HARNESS_LITELLM` set to the release under test, so it is the
same run a person would start by hand and leaves its own run folder and sign-off page; the candidate's page
then carries the diff (`upgrade.json`). A candidate that fails a criterion the pinned release passed, loses
a result, does not start, or breaks a hook, blocks the upgrade.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.results import RunResults
from harness.upgrade.candidate import Candidate
from harness.upgrade.hooks import HookError, HookUse, incompatibilities, probe

if TYPE_CHECKING:
    from harness.report.compare import Change

__all__ = ["GateError", "SuiteRun", "Verdict", "matrix", "run_gate"]

# what blocks a candidate: failing, or no longer showing, what the pinned release was seen to do
BLOCKS = ("new failure", "no longer verified", "missing")
UPGRADE_FILE = "upgrade.json"  # in a candidate's run folder: the diff its sign-off page shows


class GateError(RuntimeError):
    """The gate cannot decide: bad options, or the pinned release itself did not run."""


@dataclass
class SuiteRun:
    label: str
    suite: str
    run_dir: Path | None
    code: int
    seconds: float
    error: str = ""

    @property
    def verdict(self) -> str:
        return RunResults.read(self.run_dir).verdict if self.run_dir else "did not run"


@dataclass
class Verdict:
    """One candidate against the pinned release."""

    candidate: Candidate
    hooks: list[str] = field(default_factory=list)
    runs: dict[str, SuiteRun] = field(default_factory=dict)
    changes: dict[str, list[Change]] = field(default_factory=dict)

    def _blocking(self) -> list[tuple[str, Change]]:
        return [(suite, c) for suite, changes in self.changes.items() for c in changes
                if c.kind in BLOCKS]

    @property
    def blocking(self) -> list[str]:
        """Why the candidate is blocked, one line per hook, run that did not happen, and case."""
        return [*self.hooks, *(f"{suite}: {run.error}" for suite, run in self.runs.items() if run.error),
                *(f"{suite}: {c.id}{f' [{c.case}]' if c.case else ''} {c.kind} ({c.before} -> {c.after})"
                  for suite, c in self._blocking())]

    def summary(self) -> list[str]:
        """The blocking lines with one line per criterion instead of one per case."""
        cases: dict[tuple[str, str, str], list[str]] = {}
        for suite, c in self._blocking():
            cases.setdefault((suite, c.id, c.kind), []).append(c.case)
        return [*self.hooks, *(f"{suite}: {run.error[:300]}" for suite, run in self.runs.items() if run.error),
                *(f"{suite}: {ident} {_SAID[kind]}"
                  + (f" in {len(found)} case(s): {_some(found)}" if any(found) else "")
                  for (suite, ident, kind), found in cases.items())]


_SAID = {"new failure": "newly fails", "no longer verified": "is no longer verified (PASS -> SKIP)",
         "missing": "has no result"}


def _some(cases: list[str], shown: int = 3) -> str:
    return ", ".join(cases) if len(cases) <= shown + 1 else f"{', '.join(cases[:shown])} and {len(cases) - shown} more"


def _run(candidate: Candidate, suite: str, folder: Path, args: list[str], timeout_s: float) -> SuiteRun:
    """One child run; its console output goes to `console.log` in its folder."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HARNESS_LITELLM": str(candidate.binary),
           **({"HARNESS_LITELLM_IMAGE": candidate.image} if candidate.image else {})}
    started = time.monotonic()
    with (folder / f"{suite}.console.log").open("w") as out:
        # a TERM to the gate must reach the child's stack too (its own session does not get the terminal's)
        previous = signal.signal(signal.SIGTERM, _terminated)
        child = subprocess.Popen([sys.executable, "-m", "harness.cli", suite, "--reports", str(folder), *args],
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                 start_new_session=True)
        try:
            code = child.wait(timeout=timeout_s)
        except BaseException as exc:
            # the child's own handlers stop its stack; its process group goes with it either way
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            code = -1
        finally:
            signal.signal(signal.SIGTERM, previous)
    seconds = time.monotonic() - started
    found = sorted(p.parent for p in folder.glob(f"*-{suite}-*/results.json"))
    run_dir = found[-1] if found else None
    error = ""
    if run_dir is None or code not in (0, 1):
        text = (folder / f"{suite}.console.log").read_text(errors="replace")
        line = next((x for x in reversed(text.splitlines()) if x.startswith("error:")),
                    f"did not finish within {timeout_s:.0f} s" if code == -1 else f"exit {code}")
        error = f"litellm {candidate.version} did not run the suite: {line.removeprefix('error:').strip()}"
        run_dir = run_dir if code in (0, 1) else None
    return SuiteRun(candidate.label, suite, run_dir, code, seconds, error)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _hooks(uses: list[HookUse], pinned: list[dict] | None, candidate: Candidate, root: Path) -> list[str]:
    if not uses or pinned is None:
        return []
    try:
        answers = probe(candidate.python, uses)
    except HookError as exc:  # the candidate's python could not even be asked: that blocks it as well
        return [f"the hooks' API could not be checked on litellm {candidate.version}: {exc}"]
    return incompatibilities(uses, pinned, answers, candidate.version, root)


def _record(verdict: Verdict, pinned: Candidate, suite: str, baseline: SuiteRun) -> None:
    """The diff into the candidate's run folder, and its sign-off page rebuilt to show it."""
    from harness.report import build_report

    run = verdict.runs[suite]
    if run.run_dir is None:
        return
    document = {"suite": suite, "baseline_run": str(baseline.run_dir),
                "pinned": _release(pinned), "candidate": _release(verdict.candidate),
                "hooks": verdict.hooks, "blocking": verdict.summary(),
                "changes": [asdict(c) for c in verdict.changes.get(suite, [])]}
    (run.run_dir / UPGRADE_FILE).write_text(json.dumps(document, indent=2, default=str))
    build_report(run.run_dir)


def _release(candidate: Candidate) -> dict[str, str | None]:
    return {"version": candidate.version, "lock_sha256": candidate.lock_sha256, "binary": str(candidate.binary),
            "image": candidate.image}


def run_gate(pinned: Candidate, candidates: list[Candidate], *, suites: list[str], args: dict[str, list[str]],
             folder: Path, uses: list[HookUse], root: Path, tolerance: float | None = None,
             timeout_s: float = 3600.0, log: Callable[[str], None] = print) -> tuple[dict[str, SuiteRun],
                                                                                     list[Verdict]]:
    """Runs every suite on the pinned release, then on each candidate; one Verdict per candidate."""
    from harness.report import compare_runs

    step, total = 0, 0

    def run(candidate: Candidate, suite: str) -> SuiteRun:
        nonlocal step
        step += 1
        log(f"[{step}/{total}] litellm {candidate.label}: {suite} ...")
        done = _run(candidate, suite, folder / _slug(candidate.label), args.get(suite, []), timeout_s)
        log(f"[{step}/{total}] litellm {candidate.label}: {suite} {done.verdict} in {done.seconds:.0f} s"
            + (f" ({done.run_dir.name})" if done.run_dir else f": {done.error}"))
        return done

    # the hooks first, for every candidate: one that cannot load them is told in seconds, not after the suites
    pinned_probe = probe(pinned.python, uses) if uses else None
    verdicts = [Verdict(candidate, hooks=_hooks(uses, pinned_probe, candidate, root)) for candidate in candidates]
    for verdict in verdicts:
        for line in verdict.hooks:
            log(f"litellm {verdict.candidate.label}: {line}")
        if verdict.hooks:
            log(f"litellm {verdict.candidate.label}: its suites are not run: a hook does not fit its API")
    total = len(suites) * (1 + sum(1 for v in verdicts if not v.hooks))
    baselines: dict[str, SuiteRun] = {}
    for suite in suites if any(not v.hooks for v in verdicts) else []:
        baselines[suite] = run(pinned, suite)
        if baselines[suite].run_dir is None:
            raise GateError(f"the pinned litellm {pinned.version} did not run {suite}, so there is nothing to compare "
                            f"with: {baselines[suite].error.partition(': ')[2]}")
    for verdict in verdicts:
        candidate = verdict.candidate
        if verdict.hooks:
            continue
        for suite in suites:
            verdict.runs[suite] = run(candidate, suite)
            cand_dir = verdict.runs[suite].run_dir
            if cand_dir is not None:
                verdict.changes[suite] = compare_runs(baselines[suite].run_dir, cand_dir, tolerance)
            _record(verdict, pinned, suite, baselines[suite])
    return baselines, verdicts


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in ".-_" else "-" for c in label).strip("-")


_RANK = {"ERROR": 0, "FAIL": 1, "SKIP": 3, "PASS": 4}


def matrix(pinned: str, baselines: dict[str, SuiteRun], verdicts: list[Verdict]) -> tuple[list[str],
                                                                                          dict[str, list[str]]]:
    """criterion x release: each ID's worst status over its cases, per release (columns: pinned first)."""
    columns = [pinned] + [v.candidate.label for v in verdicts]
    rows: dict[str, list[str]] = {}
    runs = [baselines] + [v.runs for v in verdicts]
    for index, by_suite in enumerate(runs):
        for run in by_suite.values():
            if run.run_dir is None:
                continue
            for record in RunResults.read(run.run_dir).records:
                row = rows.setdefault(record.id, ["-"] * len(columns))
                old = row[index]
                if old == "-" or _RANK[record.status] < _RANK.get(old, 9):
                    row[index] = record.status
    return columns, rows
