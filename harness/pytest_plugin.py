"""The pytest plugin: criterion markers, the `stack` fixture, and the run's results file.

A suite test is marked `@pytest.mark.criterion("GW-2")` and passes its Outcome to `record`;
the plugin turns each into a Record (PASS/FAIL/SKIP/ERROR) in `reports/<run>/results.json`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest

from harness import registry
from harness.capabilities import Capability
from harness.keys import KeyProvisioningError, provision, revoke
from harness.preflight import unreachable
from harness.preview import Preview, preview, prospective_stack
from harness.providers import MissingDependency, provider_for
from harness.results import ABORTED, NotApplicable, Outcome, Record, RunResults, Status, new_run_dir
from harness.spend import SpendCapReached
from harness.stack import Stack
from harness.target import Target, TargetError, Team, load_target

_OUTCOMES = pytest.StashKey[list[Outcome]]()
_RECORDED = pytest.StashKey[bool]()
_RESULTS_PATH = pytest.StashKey[Path]()
_REPORT_ERROR = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "gateway-harness")
    group.addoption("--target", type=Path, default=os.environ.get("HARNESS_TARGET") or None,
                    help="target file (YAML); default: the embedded reference stack")
    group.addoption("--reports", type=Path, default=Path(os.environ.get("HARNESS_REPORTS", "reports")),
                    help="where run folders go (default: reports/)")
    group.addoption("--run-dir", type=Path, default=None, help="write this run's results here")
    group.addoption("--provider", choices=["local", "containers", "external"], default=None,
                    help="override the target's provider (containers: Testcontainers, after `harness images build`)")
    group.addoption("--router", choices=["reference", "n8n"], default=None,
                    help="the embedded stack's routing webhook: the reference router or the real n8n (make n8n)")
    group.addoption("--quick", action="store_true", help="chaos: the CI-sized run (first chain, quick variants)")
    group.addoption("--scenario", action="append", default=None,
                    help="chaos: only this scenario (or variant) name; repeat for several")
    group.addoption("--profile", default="steady",
                    help="load: steady, spike, sustained, ramp, sweep, open, or a comma list; all = the plan's three")
    group.addoption("--duration-scale", type=float, default=1.0, help="load: stage lengths times this (CI: 0.02)")
    group.addoption("--workers", type=int, default=0, help="load: Locust workers (master/worker mode); 0 = one process")
    group.addoption("--rate", type=float, default=10.0, help="load: open profile's requests/s")
    group.addoption("--arrival", default="constant", choices=["constant", "poisson"], help="load: open arrivals")
    group.addoption("--master-bind", default=None, help="load: HOST:PORT for --workers remote workers")
    group.addoption("--worker-provider", default="local", choices=["local", "containers"],
                    help="load: --workers as local processes or as containers of the services image")
    group.addoption("--prompt-tokens", default=None, help="load: synthetic prompt tokens (N, normal:M:S, uniform:A:B)")
    group.addoption("--output-tokens", default=None, help="load: max_tokens per request (same forms)")
    group.addoption("--spend-approved", action="store_true",
                    help="start even where the estimate is above max_spend_usd (harness load --yes)")
    group.addoption("--preview-json", type=Path, default=None,
                    help="write what the collected tests will run, SKIP and spend here (harness plan)")


class _Run:
    """The run being recorded; created on the first criterion test so plain test runs write nothing."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: RunResults | None = None
        self.dir: Path | None = None
        self.stack: Stack | None = None
        self.aborted: str | None = None

    def abort(self, reason: str) -> NoReturn:
        """Stops the run before any check: no results (nothing was verified), the reason in `aborted.txt` for
        the CLI's one line, exit 3."""
        self.aborted = reason
        if self.dir is not None:
            (self.dir / ABORTED).write_text(reason + "\n")
        pytest.exit(reason, returncode=3)

    def ensure(self, suite: str) -> RunResults:
        if self.results is None:
            self.dir = self.config.getoption("run_dir") or new_run_dir(self.config.getoption("reports"), suite)
            self.dir.mkdir(parents=True, exist_ok=True)
            self.results = RunResults(run_id=self.dir.name, suite=suite,
                                      started=datetime.now(UTC).isoformat(timespec="seconds"))
        return self.results


_RUN = pytest.StashKey[_Run]()
_NOT_APPLICABLE = "not applicable: "


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[None]:
    """A check that raises NotApplicable becomes a SKIP that does not block the verdict; each LLM call it
    sends is booked to its criterion; the spend guard's refusal stops the run (what was verified stays)."""
    run = pyfuncitem.config.stash[_RUN]
    marker = pyfuncitem.get_closest_marker("criterion")
    ledger = run.stack.spend if run.stack is not None else None
    if ledger is not None and marker is not None:
        ledger.criterion = str(marker.args[0])
    try:
        return (yield)
    except NotApplicable as exc:
        pytest.skip(f"{_NOT_APPLICABLE}{exc}")
    except SpendCapReached as exc:
        if run.results is not None:
            run.results.stopped = str(exc)
        pytest.exit(str(exc), returncode=3)
    finally:
        if ledger is not None:
            ledger.criterion = "-"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "criterion(id): the criterion ID a check verifies")
    config.addinivalue_line("markers", "spend(calls, input_tokens=60, output_tokens=64): the LLM calls a test sends "
                                       "(for tests the registry does not decide; harness plan)")
    config.stash[_RUN] = _Run(config)



@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    path = pytestconfig.getoption("target")
    try:
        target = Target.embedded() if path is None else load_target(Path(path))
    except TargetError as exc:
        pytest.exit(f"target error: {exc}", returncode=2)
    provider = pytestconfig.getoption("provider")
    if provider is not None and provider != target.provider and (provider == "external" or
                                                                 target.litellm_config is None):
        pytest.exit(f"target error: --provider {provider} needs a target with "
                    f"{'gateway URLs' if provider == 'external' else 'a litellm_config'}", returncode=2)
    target = _overridden(target, pytestconfig)
    if target.router == "n8n" and target.provider != "local":
        pytest.exit(f"target error: --router n8n: the embedded stack (provider local) starts n8n, {target.provider} "
                    "does not; verify a running n8n through the target's router_url", returncode=2)
    return target


def _overridden(target: Target, config: pytest.Config) -> Target:
    """The target with the command line's --provider and --router applied."""
    update = {name: value for name in ("provider", "router") if (value := config.getoption(name)) is not None}
    return target.model_copy(update=update) if update else target


@pytest.fixture(scope="session")
def stack(target: Target, pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The stack under test, brought up by the target's provider and torn down after the session."""
    run = pytestconfig.stash[_RUN]
    results = run.ensure(_suite_name(pytestconfig))
    assert run.dir is not None
    provider = provider_for(target, run.dir)
    try:
        live = provider.start()
    except (MissingDependency, TargetError) as exc:
        run.abort(f"cannot start the stack: {exc}")
    except RuntimeError as exc:
        run.abort(f"stack failed to start: {exc}")
    if Capability.OWNED not in live.capabilities:  # a stack the harness started has answered already
        problem = unreachable(live.target)
        if problem:
            provider.stop()
            run.abort(problem)
    minted: list[Team] = []
    try:
        if target.team_keys == "virtual" and target.teams:
            minted = provision(live, target.teams)
            live.target = live.target.model_copy(update={"teams": minted})
    except KeyProvisioningError as exc:
        provider.stop()
        run.abort(f"cannot mint the team keys: {exc}")
    planned = _preview(request.session.items, live, pytestconfig)
    results.preview = planned.line()
    refused = planned.over_cap()
    if refused and not pytestconfig.getoption("spend_approved"):
        revoke(live, minted)
        provider.stop()
        run.abort(refused)
    run.stack = live
    results.target, results.provider = target.name, live.provider
    results.deviations = live.target.plan.deviations()
    results.standins = live.standins
    results.versions = {**live.versions, "team_keys": "virtual keys via /key/generate" if minted
                        else "keys given to the gateway (custom_auth keys file on the embedded stack)"}
    try:
        yield live
    finally:
        revoke(live, minted)
        provider.stop()


@pytest.fixture(scope="session")
def diagnostic_run(pytestconfig: pytest.Config) -> Callable[[str], None]:
    """Declares this run one that judges no criterion (load attribution): no verdict, the text said instead."""
    results = pytestconfig.stash[_RUN].ensure(_suite_name(pytestconfig))
    return lambda what: setattr(results, "diagnostic", what)


@pytest.fixture(scope="session")
def run_dir(pytestconfig: pytest.Config) -> Path:
    """This run's folder under reports/, where results.json and any run artefacts (load samples) go."""
    run = pytestconfig.stash[_RUN]
    run.ensure(_suite_name(pytestconfig))
    assert run.dir is not None
    return run.dir


def criteria(*idents: str) -> list[Any]:
    """Parameters for a suite test that decides these criteria through the registry: one per criterion, marked
    with every ID its check records, named `gw_1` (so `-k gw_1` picks one)."""
    params = []
    for ident in idents:
        ids = registry.checks_for(ident)[0].ids
        params.append(pytest.param(ident, marks=pytest.mark.criterion(*ids), id=ident.lower().replace("-", "_")))
    return params


Decide = Callable[..., list[Outcome]]


@pytest.fixture
def decide(stack: Stack, record: Callable[[Outcome], Outcome]) -> Decide:
    """`decide("GW-1")`, or `decide("BK-3", backups=rig)`: the registry picks the check whose needs the stack
    meets (else a SKIP naming the missing target field, with no check code run); its outcomes are recorded
    and the test fails on any FAIL."""

    def run(ident: str, **subjects: Any) -> list[Outcome]:
        outcomes = [record(o) for o in registry.run(ident, stack, subjects)]
        assert all(outcomes), "; ".join(o.summary() for o in outcomes if not o)
        return outcomes

    return run


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[[Outcome], Outcome]:
    """Stores a check's Outcome as a criterion record of this test (one test may record several)."""

    def store(outcome: Outcome) -> Outcome:
        request.node.stash.setdefault(_OUTCOMES, []).append(outcome)
        _allure_step(outcome)
        return outcome

    return store


def _allure_step(outcome: Outcome) -> None:
    """With allure-pytest active, each outcome becomes a step with its measured value and evidence attached."""
    try:
        import allure
    except ImportError:
        return
    verdict = "PASS" if outcome.passed else "FAIL"
    with allure.step(f"{outcome.id}{' [' + outcome.case + ']' if outcome.case else ''}: {verdict}"):
        allure.attach(json.dumps(outcome.model_dump(), indent=1, default=str), name=f"{outcome.id} outcome",
                      attachment_type=allure.attachment_type.JSON)


def _preview(items: list[pytest.Item], stack: Stack, config: pytest.Config) -> Preview:
    profiles: list[Any] = []
    if _suite_name(config) == "load":
        from harness.load.plan import choose_profiles

        options = config.option
        try:
            profiles = choose_profiles(options.profile, options.duration_scale, options.rate, options.arrival,
                                       stack.target.load.sweep_rates)
        except ValueError:
            profiles = []  # the load suite says why, in its own words
    return preview(items, stack, _suite_name(config), profiles)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Before anything runs: the suite's one-line plan, from the stack the target's provider would give
    (`--preview-json` writes every row, for `harness plan`)."""
    config = session.config
    if not any(item.get_closest_marker("criterion") for item in session.items):
        return
    path = config.getoption("target")
    try:
        target = Target.embedded() if path is None else load_target(Path(path))
    except TargetError:
        return  # the target fixture says what is wrong with it
    target = _overridden(target, config)
    planned = _preview(session.items, prospective_stack(target), config)
    out = config.getoption("preview_json")
    if out is not None:
        out.write_text(json.dumps({"suite": planned.suite, "line": planned.line(), "calls": planned.calls,
                                   "usd": planned.usd, "cap_usd": planned.cap_usd,
                                   "real_providers": planned.real_providers, "over_cap": planned.over_cap(),
                                   "rows": [asdict(r) for r in planned.rows]}, indent=1))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(planned.line())


def _suite_name(config: pytest.Config) -> str:
    args = " ".join(str(a) for a in config.args)
    for name in ("acceptance", "chaos", "load", "alerting", "security"):
        if name in args:
            return name
    return "checks"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    run = item.config.stash[_RUN]
    if report.failed and run.dir is not None:  # every traceback in the run folder (the CLI keeps them off screen)
        with (run.dir / "tracebacks.log").open("a") as log:
            log.write(f"==== {report.nodeid} ({report.when})\n{report.longreprtext}\n\n")
    marker = item.get_closest_marker("criterion")
    if marker is None or item.stash.get(_RECORDED, False):
        return report
    if report.when != "call" and report.passed:
        return report
    results = run.ensure(_suite_name(item.config))
    outcomes = item.stash.get(_OUTCOMES, [])
    skipped_reason = ""
    if report.skipped:
        longrepr = report.longrepr
        skipped_reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    error = call.excinfo.value if call.excinfo is not None else None
    for outcome in outcomes:
        status: Status = "SKIP" if report.skipped else ("PASS" if outcome.passed else "FAIL")
        results.records.append(Record.from_outcome(outcome, status, report.duration, item.nodeid))
    recorded = {o.id for o in outcomes}
    for ident in (str(a) for a in marker.args):
        if ident in recorded:
            continue
        outcome = Outcome(id=ident, passed=False)
        if report.skipped:
            status, outcome.detail = "SKIP", skipped_reason.removeprefix("Skipped: ")
        elif error is not None and not isinstance(error, AssertionError):
            status, outcome.detail = "ERROR", f"{type(error).__name__}: {error}"[:500]
        else:
            status = "ERROR"
            outcome.detail = "the test recorded no outcome for this criterion" + \
                (f" ({type(error).__name__}: {error})"[:300] if error is not None else "")
        record = Record.from_outcome(outcome, status, report.duration, item.nodeid)
        record.blocking = not (status == "SKIP" and outcome.detail.startswith(_NOT_APPLICABLE))
        results.records.append(record)
    item.stash[_RECORDED] = True
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash[_RUN]
    if run.results is None or run.dir is None or run.aborted is not None:
        return
    if run.stack is not None:  # suites may have added stand-ins of their own (the backup stores)
        run.results.standins = list(run.stack.standins)
        if run.stack.spend is not None:
            run.results.spend = run.stack.spend.summary()
    if run.stack is not None and run.stack.target.litellm_config is not None \
            and run.stack.target.litellm_config.exists():
        config = run.stack.target.litellm_config
        run.results.versions["litellm_config_sha256"] = hashlib.sha256(config.read_bytes()).hexdigest()[:16]
    path = run.results.write(run.dir)
    session.config.stash[_RESULTS_PATH] = path
    try:
        from harness.report import build_report  # matplotlib loads only when a run ends

        build_report(run.dir, run.stack.secrets() if run.stack is not None else ())
    except Exception as exc:  # the results stand without the page; say so rather than lose the run
        session.config.stash[_REPORT_ERROR] = f"{type(exc).__name__}: {exc}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    run = config.stash[_RUN]
    if run.results is None or run.aborted is not None:
        return
    terminalreporter.section("criteria")
    path = config.stash.get(_RESULTS_PATH, None)
    if run.results.diagnostic and not run.results.records:
        terminalreporter.write_line(f"no verdict: {run.results.diagnostic}   results: {path}")
    else:
        for line in run.results.reasons():
            terminalreporter.write_line(line[:200])
        terminalreporter.write_line(f"verdict: {run.results.verdict} ({run.results.coverage()})   results: {path}")
    if path is not None:
        problem = config.stash.get(_REPORT_ERROR, None)
        terminalreporter.write_line(f"report: {path.parent / 'index.html'}" if problem is None
                                    else f"report NOT built ({problem}); retry with: harness report {path.parent}")
