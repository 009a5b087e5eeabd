"""The sign-off page: verdict, every criterion, plots inline, secrets masked; `--compare` flags a regression."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from harness.report import build_report, compare_runs
from tests.report.conftest import SECRET, write_run


def test_the_page_has_the_verdict_every_criterion_and_inline_plots(run_folder: Path) -> None:
    html = build_report(run_folder).read_text()
    assert 'data-verdict="NO-GO"' not in html and 'data-verdict="GO"' in html
    assert len(re.findall(r'<tr class="criterion ', html)) == 5
    assert html.count("<svg") == 3  # load over time, streaming, one chaos timeline
    assert "Stand-ins were used" in html and "Sign-off" in html and "1.103.0" in html
    # each chaos case: steady-state latency beside the latency under its fault
    table = html[html.index('<table id="chaos-latency">'):]
    assert re.search(r"<td>primary-failure</td><td>gpt-4 &gt; claude-3 / refused</td><td>0.041</td><td>0.08</td>",
                     table[:table.index("</table>")])
    # nothing to fetch (namespace URIs inside the SVGs are names, not requests): it opens offline
    assert not re.search(r'(src|href)="(https?:)?//|url\((https?:)?//|<link |<script', html)


def test_secrets_are_masked_even_without_being_told(run_folder: Path) -> None:
    build_report(run_folder)  # no secrets passed: key-shaped strings are masked by shape
    assert SECRET not in (run_folder / "index.html").read_text()
    build_report(run_folder, secrets=[SECRET])
    assert SECRET not in (run_folder / "index.html").read_text()


def test_a_failure_makes_the_banner_no_go(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "r" / "run", cache_ok=False)
    html = build_report(folder).read_text()
    assert 'data-verdict="NO-GO"' in html and 'data-status="FAIL"' in html


def test_compare_flags_a_planted_regression(tmp_path: Path) -> None:
    before = write_run(tmp_path / "r" / "a", p95_s=1.2)
    after = write_run(tmp_path / "r" / "b", p95_s=2.4, cache_ok=False)
    changes = {(c.id, c.kind) for c in compare_runs(before, after)}
    assert ("LD-4", "regression") in changes and ("CA-1", "new failure") in changes
    assert not [c for c in compare_runs(before, before) if c.bad]
    result = subprocess.run([sys.executable, "-m", "harness.cli", "report", "--compare", str(before), str(after)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "regression" in result.stdout and "2 regression(s)" in result.stdout


def test_report_of_a_folder_without_results_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(tmp_path)], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "no results.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_compare_judges_only_the_criterions_own_quantity(tmp_path: Path) -> None:
    """FB-7's limit is seconds: fewer characters in its evidence is neither a regression nor an improvement."""
    from harness.results import Outcome, Record, RunResults

    def run(folder: Path, chars: int, worst_s: float) -> Path:
        folder.mkdir(parents=True)
        results = RunResults(run_id=folder.name, started="2026-12-02T00:00:00+00:00")
        for outcome in (Outcome(id="FB-7", passed=True, case="cut", measured={"chars": chars}, unit="s"),
                        Outcome(id="FB-2", passed=True, case="hung", measured={"worst_s": worst_s}, unit="s")):
            results.records.append(Record.from_outcome(outcome, "PASS", 0.1, "x"))
        results.write(folder)
        return folder

    changes = compare_runs(run(tmp_path / "a", 140, 0.2), run(tmp_path / "b", 16, 0.9))
    assert [(c.id, c.kind) for c in changes] == [("FB-2", "regression")]
