"""The upgrade gate end to end: the pinned LiteLLM against candidates made from it. A candidate with a
fallback-breaking patch is blocked naming FB-1; the same release unpatched is not; one whose API no longer
fits a hook is blocked before its suites run. Plus the diff, matrix and bad input without a stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.results import RunResults
from harness.target import REPO
from harness.upgrade.candidate import Candidate
from harness.upgrade.gate import SuiteRun, Verdict, matrix
from tests.report.conftest import write_run
from tests.upgrade.overlay import break_fallbacks, overlay_venv, refuse_to_start, rename_pre_call_hook


def _harness(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


def test_a_new_failure_blocks_and_the_matrix_shows_each_release(tmp_path: Path) -> None:
    from harness.report import compare_runs

    before, after = write_run(tmp_path / "a" / "r-acceptance-1"), write_run(tmp_path / "b" / "r-acceptance-2",
                                                                            cache_ok=False)
    pinned = SuiteRun("pinned 1.0", "acceptance", before, 0, 1.0)
    candidate = Candidate("2.0", "2.0", tmp_path / "bin" / "litellm")
    verdict = Verdict(candidate, runs={"acceptance": SuiteRun("2.0", "acceptance", after, 1, 1.0)},
                      changes={"acceptance": compare_runs(before, after)})
    assert verdict.summary() == ["acceptance: CA-1 newly fails"]
    columns, rows = matrix("pinned 1.0", {"acceptance": pinned}, [verdict])
    assert columns == ["pinned 1.0", "2.0"] and rows["CA-1"] == ["PASS", "FAIL"] and rows["CA-2"] == ["SKIP", "SKIP"]
    # a candidate where a criterion the pin passed cannot be seen any more is not cleared on it
    unseen = write_run(tmp_path / "c" / "r-acceptance-3")
    results = RunResults.read(unseen)
    results.records[0].status = "SKIP"
    results.write(unseen)
    hidden = Verdict(candidate, runs={"acceptance": SuiteRun("2.0", "acceptance", unseen, 1, 1.0)},
                     changes={"acceptance": compare_runs(before, unseen)})
    assert hidden.summary() == ["acceptance: GW-1 is no longer verified (PASS -> SKIP)"]
    clean = Verdict(candidate, runs={"acceptance": SuiteRun("2.0", "acceptance", before, 0, 1.0)},
                    changes={"acceptance": compare_runs(before, before)})
    assert clean.summary() == [] and clean.blocking == []


@pytest.mark.parametrize(("args", "expected"), [
    (["--litellm", "1.82.8"], "known-malicious"),
    (["--litellm", "1.100.0", "--suites", "load"], "--suites load: use a comma list of acceptance, chaos"),
    (["--litellm", "1.100.0", "--deny", "1.100.0"], "your --deny list"),
    (["--litellm", "/nonexistent/venv"], "not an executable litellm"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], expected: str, tmp_path: Path) -> None:
    result = _harness("upgrade-check", *args, "--reports", str(tmp_path))
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_a_release_that_cannot_be_installed_is_one_line_and_exit_3(tmp_path: Path) -> None:
    env = {**os.environ, "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "HARNESS_LITELLM_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "harness.cli", "upgrade-check", "--litellm", "1.100.0",
                             "--reports", str(tmp_path / "reports")], capture_output=True, text=True, cwd=REPO,
                            timeout=120, env=env)
    assert result.returncode == 3, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: no candidate could be installed: 1.100.0") and "PIP_INDEX_URL" in last
    assert not (tmp_path / "reports").exists()


def test_an_external_target_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "t.yaml"
    target.write_text("name: theirs\nprovider: external\ngateway:\n  url: http://127.0.0.1:9\n  master_key: k\n")
    result = _harness("upgrade-check", "--litellm", "1.100.0", "--target", str(target))
    assert result.returncode == 2 and "starts each release itself" in result.stderr, result.stderr


@pytest.mark.stack
def test_a_fallback_breaking_candidate_is_blocked_naming_fb1_and_its_twin_is_not(tmp_path: Path) -> None:
    clean = overlay_venv(tmp_path / "clean")
    broken = overlay_venv(tmp_path / "no-fallbacks", break_fallbacks)
    renamed = overlay_venv(tmp_path / "renamed-hook", rename_pre_call_hook)
    dead = overlay_venv(tmp_path / "wont-start", refuse_to_start)
    reports = tmp_path / "reports"
    result = _harness("upgrade-check", "--litellm", str(clean), "--litellm", str(broken), "--litellm",
                      str(renamed.parent.parent), "--litellm", str(dead), "--suites", "chaos", "--scenario",
                      "primary-failure", "--quick", "--reports", str(reports), timeout=900)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-4000:]
    assert "litellm clean 1.103.0: nothing the pinned release passed breaks" in " ".join(out.split())
    blocked = next(line for line in out.splitlines() if "no-fallbacks" in line and "BLOCKED" in line)
    assert "FB-1 newly fails in 3 case(s)" in blocked
    assert "hook stack/litellm/escalation.py" in out and "async_pre_call_hook, which litellm 1.103.0 no longer" in out
    summary = json.loads(next(reports.glob("*-upgrade-*/upgrade-summary.json")).read_text())
    assert summary["columns"] == ["pinned 1.103.0", "clean 1.103.0", "no-fallbacks 1.103.0", "renamed-hook 1.103.0",
                                  "wont-start 1.103.0"]
    assert summary["matrix"]["FB-1"] == ["PASS", "PASS", "FAIL", "-", "-"]
    assert any("did not run the suite" in line for line in summary["blocking"]["wont-start 1.103.0"])
    run = next(reports.glob("*-upgrade-*/no-fallbacks-1.103.0/*-chaos-*"))
    diff = json.loads((run / "upgrade.json").read_text())
    assert {(c["id"], c["kind"]) for c in diff["changes"]} >= {("FB-1", "new failure")}
    assert diff["pinned"]["version"] == diff["candidate"]["version"] == "1.103.0"
    html = (run / "index.html").read_text()
    assert 'id="upgrade"' in html and "The upgrade is blocked" in html and "FB-1 newly fails" in html
    versions = json.loads((run / "results.json").read_text())["versions"]
    assert versions["litellm_binary"] == str(broken) and versions["litellm"] == "1.103.0"
