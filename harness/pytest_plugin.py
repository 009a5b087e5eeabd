"""The pytest plugin: criterion markers, the `stack` fixture, and the run's results file.

A suite test is marked `@pytest.mark.criterion("GW-2")` and passes its Outcome to `record`;
the plugin turns each into a Record (PASS/FAIL/SKIP/ERROR) in `reports/<run>/results.json`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.providers import MissingDependency, provider_for
from harness.results import Outcome, Record, RunResults, Status, new_run_dir
from harness.stack import Stack
from harness.target import Target, TargetError, load_target

_OUTCOME = pytest.StashKey[Outcome]()
_RECORDED = pytest.StashKey[bool]()
_RESULTS_PATH = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "gateway-harness")
    group.addoption("--target", type=Path, default=os.environ.get("HARNESS_TARGET") or None,
                    help="target file (YAML); default: the embedded reference stack")
    group.addoption("--reports", type=Path, default=Path(os.environ.get("HARNESS_REPORTS", "reports")),
                    help="where run folders go (default: reports/)")
    group.addoption("--run-dir", type=Path, default=None, help="write this run's results here")


class _Run:
    """The run being recorded; created on the first criterion test so plain test runs write nothing."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: RunResults | None = None
        self.dir: Path | None = None
        self.stack: Stack | None = None

    def ensure(self, suite: str) -> RunResults:
        if self.results is None:
            self.dir = self.config.getoption("run_dir") or new_run_dir(self.config.getoption("reports"), suite)
            self.dir.mkdir(parents=True, exist_ok=True)
            self.results = RunResults(run_id=self.dir.name, suite=suite,
                                      started=datetime.now(UTC).isoformat(timespec="seconds"))
        return self.results


_RUN = pytest.StashKey[_Run]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "criterion(id): the criterion ID a check verifies")
    config.stash[_RUN] = _Run(config)



@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    path = pytestconfig.getoption("target")
    if path is None:
        return Target.embedded()
    try:
        return load_target(Path(path))
    except TargetError as exc:
        pytest.exit(f"target error: {exc}", returncode=2)


@pytest.fixture(scope="session")
def stack(target: Target, pytestconfig: pytest.Config) -> Iterator[Stack]:
    """The stack under test, brought up by the target's provider and torn down after the session."""
    run = pytestconfig.stash[_RUN]
    results = run.ensure(_suite_name(pytestconfig))
    assert run.dir is not None
    provider = provider_for(target, run.dir)
    try:
        live = provider.start()
    except (MissingDependency, TargetError) as exc:
        pytest.exit(f"cannot start the stack: {exc}", returncode=3)
    except RuntimeError as exc:
        pytest.exit(f"stack failed to start: {exc}", returncode=3)
    run.stack = live
    results.target, results.provider = target.name, live.provider
    results.standins, results.versions = live.standins, live.versions
    try:
        yield live
    finally:
        provider.stop()


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[[Outcome], Outcome]:
    """Stores a check's Outcome for this test's criterion record, and returns it."""

    def store(outcome: Outcome) -> Outcome:
        request.node.stash[_OUTCOME] = outcome
        return outcome

    return store


def _suite_name(config: pytest.Config) -> str:
    args = " ".join(str(a) for a in config.args)
    for name in ("acceptance", "chaos", "load", "security"):
        if name in args:
            return name
    return "checks"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    marker = item.get_closest_marker("criterion")
    if marker is None or item.stash.get(_RECORDED, False):
        return report
    if report.when != "call" and report.passed:
        return report
    run = item.config.stash[_RUN]
    results = run.ensure(_suite_name(item.config))
    ident = str(marker.args[0])
    stored = item.stash.get(_OUTCOME, None)
    outcome = stored if stored is not None else Outcome(id=ident, passed=False)
    status: Status
    if report.skipped:
        status = "SKIP"
        longrepr = report.longrepr
        outcome.detail = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    elif report.passed and stored is not None and stored.passed:
        status = "PASS"
    elif report.passed:
        status = "ERROR"
        outcome.detail = "the test passed without recording a passing outcome"
    elif stored is not None and not stored.passed:
        status = "FAIL"
    else:
        status = "ERROR"
        error = call.excinfo.value if call.excinfo is not None else None
        outcome.detail = f"{type(error).__name__}: {error}"[:500] if error is not None else report.longreprtext[-500:]
    results.records.append(Record.from_outcome(outcome, status, report.duration, item.nodeid))
    item.stash[_RECORDED] = True
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash[_RUN]
    if run.results is None or run.dir is None:
        return
    path = run.results.write(run.dir)
    session.config.stash[_RESULTS_PATH] = path



def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    run = config.stash[_RUN]
    if run.results is None:
        return
    terminalreporter.section("criteria")
    for rec in run.results.records:
        terminalreporter.write_line(f"{rec.status:5} {rec.id:6} measured={rec.measured!s:.60} "
                                    f"threshold={rec.threshold!s:.40} {rec.detail[:120]}")
    path = config.stash.get(_RESULTS_PATH, None)
    terminalreporter.write_line(f"verdict: {run.results.verdict}   results: {path}")

