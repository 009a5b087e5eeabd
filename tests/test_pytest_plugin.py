"""The plugin turns criterion tests into PASS/FAIL/SKIP/ERROR records and a results file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITE = '''
import pytest
from harness.results import Outcome

@pytest.mark.criterion("GW-1")
def test_pass(record):
    assert record(Outcome(id="GW-1", passed=True, measured=0.2, threshold=60, unit="s"))

@pytest.mark.criterion("GW-2")
def test_fail(record):
    outcome = record(Outcome(id="GW-2", passed=False, measured=["a"], threshold=["a", "b"], detail="missing b"))
    assert outcome, outcome.summary()

@pytest.mark.criterion("GW-3")
def test_skip(record):
    pytest.skip("no provider control in this stack")

@pytest.mark.criterion("GW-4")
def test_error(record):
    raise RuntimeError("gateway exploded")

@pytest.mark.criterion("GW-5")
def test_passes_without_recording(record):
    pass

@pytest.mark.criterion("CA-2")
def test_not_applicable(record):
    from harness.results import NotApplicable
    raise NotApplicable("no semantic cache configured")

@pytest.mark.criterion("FB-1", "FB-2")
def test_one_probe_two_criteria(record):
    record(Outcome(id="FB-1", passed=True, case="gpt-4 / refused"))
    outcome = record(Outcome(id="FB-2", passed=False, case="gpt-4 / refused", measured=6.1, detail="too slow"))
    assert outcome, outcome.summary()

def test_plain_test_is_not_a_criterion():
    pass
'''


def test_records_and_verdict(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_suite=SUITE)
    run_dir = tmp_path / "run"
    result = pytester.runpytest("-p", "harness.pytest_plugin", "--run-dir", str(run_dir))
    result.assert_outcomes(passed=3, failed=3, skipped=2)
    data = json.loads((run_dir / "results.json").read_text())
    statuses = {r["id"]: (r["status"], r["detail"]) for r in data["records"]}
    assert statuses["GW-1"][0] == "PASS"
    assert statuses["GW-2"] == ("FAIL", "missing b")
    assert statuses["GW-3"] == ("SKIP", "no provider control in this stack")
    assert statuses["GW-4"][0] == "ERROR" and "gateway exploded" in statuses["GW-4"][1]
    assert statuses["GW-5"] == ("ERROR", "the test recorded no outcome for this criterion")
    assert statuses["FB-1"] == ("PASS", "") and statuses["FB-2"] == ("FAIL", "too slow")
    assert {r["case"] for r in data["records"] if r["id"].startswith("FB")} == {"gpt-4 / refused"}
    ca2 = next(r for r in data["records"] if r["id"] == "CA-2")
    assert (ca2["status"], ca2["blocking"], ca2["detail"]) == ("SKIP", False,
                                                               "not applicable: no semantic cache configured")
    assert next(r for r in data["records"] if r["id"] == "GW-3")["blocking"] is True
    assert data["verdict"] == "NO-GO" and len(data["records"]) == 8
    result.stdout.fnmatch_lines(["*verdict: NO-GO*"])


def test_no_criterion_tests_write_nothing(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_plain="def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "harness.pytest_plugin", "--reports", str(tmp_path / "reports"))
    result.assert_outcomes(passed=1)
    assert not (tmp_path / "reports").exists()


def test_a_non_blocking_skip_leaves_the_verdict_go(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_go='''
import pytest
from harness.results import NotApplicable, Outcome

@pytest.mark.criterion("GW-1")
def test_pass(record):
    assert record(Outcome(id="GW-1", passed=True))

@pytest.mark.criterion("CA-2")
def test_na(record):
    raise NotApplicable("no semantic cache")
''')
    result = pytester.runpytest("-p", "harness.pytest_plugin", "--run-dir", str(tmp_path / "run"))
    result.assert_outcomes(passed=1, skipped=1)
    assert json.loads((tmp_path / "run" / "results.json").read_text())["verdict"] == "GO"
