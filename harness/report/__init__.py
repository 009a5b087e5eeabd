"""The sign-off report: `build_report(run_dir)` writes index.html; `compare_runs(a, b)` says what changed."""

from harness.report.build import build_report
from harness.report.compare import Change, compare_runs

__all__ = ["Change", "build_report", "compare_runs"]
