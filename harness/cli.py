"""The `harness` command: bring a stack up, run the suites against it, and say GO or NO-GO.

Exit codes: 0 GO, 1 NO-GO (a check failed), 2 bad input (target file, options), 3 the stack
could not start (a missing binary, a dead endpoint); each error is one line with its fix.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from harness.console import console, err, print_changes, print_plan, print_verdict
from harness.console import fail as _fail
from harness.lifecycle import ReportsOption, TargetOption, down, read_target, status, up
from harness.load.worker_command import load_worker
from harness.results import ABORTED, RunResults, new_run_dir
from harness.target import REPO
from harness.upgrade.command import upgrade_check

app = typer.Typer(help="Verify a self-hosted LLM gateway stack against its plan's success criteria.",
                  no_args_is_help=True, add_completion=False)
for command in (up, down, status):
    app.command()(command)

ProviderOption = Annotated[str | None, typer.Option(
    "--provider", help="local (embedded processes), containers (Testcontainers) or external; default: the target's")]

class Router(enum.StrEnum):
    reference = "reference"
    n8n = "n8n"


RouterOption = Annotated[Router | None, typer.Option("--router", help="embedded stack: the routing webhook it runs: "
                                                     "the reference router or the real n8n (make n8n)")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="pytest's own output and tracebacks too")]


def _run_suite(suite: str, target: Path | None, reports: Path, extra: list[str], provider: str | None = None,
               verbose: bool = False, diagnostic: bool = False) -> None:
    """Runs `suites/<suite>` through pytest, prints the verdict table; exit 0 only on GO. pytest's own
    tracebacks go to the run's `tracebacks.log` unless `verbose`."""
    import pytest

    if target is not None:
        read_target(target)
    run_dir = new_run_dir(reports, suite)
    # Locust's pytest plugin stays off: gevent's patching must never reach the harness process
    args = [str(REPO / "suites" / suite), "-q", "-p", "no:cacheprovider", "-p", "no:locust", "--run-dir", str(run_dir),
            "--rootdir", str(REPO), "--junitxml", str(run_dir / "junit.xml"), *extra,
            *(["-v"] if verbose else ["--tb=no", "-p", "no:warnings"])]
    if importlib.util.find_spec("allure_pytest") is not None:
        args += ["--alluredir", str(run_dir / "allure-results")]
    if target is not None:
        args += ["--target", str(target.resolve())]
    if provider is not None:
        if provider == "compose":
            raise _fail("--provider compose: give a target file with a compose: section instead (--target FILE; "
                        "example: stack/compose/vps.target.yaml)", 2)
        if provider not in ("local", "containers", "external"):
            raise _fail(f"--provider {provider}: use local, containers or external", 2)
        args += ["--provider", provider]
    code = pytest.main(args)
    results = run_dir / "results.json"
    aborted = run_dir / ABORTED
    if aborted.exists():
        raise _fail(aborted.read_text().strip(), 3)
    if code in (2, 3, 4) and not results.exists():
        raise _fail(f"the {suite} suite did not run (pytest exit {code}); see the output above", 3)
    if not results.exists():
        raise _fail(f"no results were written (pytest exit {code}); see the output above", 3)
    if diagnostic:  # judges no criterion: its table, and exit 0 once it was written
        from harness.load.attribution import print_attribution

        raise typer.Exit(print_attribution(run_dir, console))
    print_verdict(results)
    report = run_dir / "index.html"
    if report.exists():
        console.print(f"report: {report}")
    outcome = RunResults.read(results)
    if outcome.stopped:
        raise _fail(outcome.stopped, 3)
    raise typer.Exit(0 if outcome.verdict == "GO" else 1)


def _collect(suite: str, target: Path | None, extra: list[str], provider: str | None) -> dict[str, Any]:
    from harness.preview import collect

    try:
        return collect(REPO / "suites" / suite, target, extra, provider)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None


@app.command()
def plan(target: TargetOption = None,
         suite: Annotated[list[str] | None, typer.Option(help="acceptance, chaos, load, alerting (repeatable); "
                                                             "default: acceptance and chaos")] = None,
         provider: ProviderOption = None) -> None:
    """Before anything is sent: each criterion will run or SKIP (and the target field that enables it), the LLM
    calls of each suite and their estimated cost on the target's price table. Sends nothing."""
    read_target(target)
    for name in suite or ["acceptance", "chaos"]:
        if not (REPO / "suites" / name).is_dir():
            raise _fail(f"--suite {name}: use acceptance, chaos, load or alerting", 2)
        print_plan(_collect(name, target, [], provider))


@app.command()
def acceptance(target: TargetOption = None, reports: ReportsOption = Path("reports"),
               keyword: Annotated[str | None, typer.Option("-k", help="only checks matching this pytest -k")] = None,
               provider: ProviderOption = None, router: RouterOption = None, verbose: VerboseOption = False) -> None:
    """Run the acceptance suite (GW, OBS ...) and print the verdict; exit 0 only on GO."""
    extra = (["-k", keyword] if keyword else []) + (["--router", router.value] if router else [])
    _run_suite("acceptance", target, reports, extra, provider, verbose)


@app.command()
def chaos(target: TargetOption = None, reports: ReportsOption = Path("reports"),
          scenario: Annotated[list[str] | None, typer.Option(help="only this scenario or variant name (repeatable)")
                              ] = None,
          quick: Annotated[bool, typer.Option("--quick", help="CI-sized: first chain, quick variants")] = False,
          provider: ProviderOption = None, router: RouterOption = None, verbose: VerboseOption = False) -> None:
    """Run the chaos scenarios (FB-1..FB-7, CA-5) against the stack; exit 0 only on GO."""
    extra = (["--quick"] if quick else []) + [arg for name in scenario or [] for arg in ("--scenario", name)] + \
        (["--router", router.value] if router else [])
    _run_suite("chaos", target, reports, extra, provider, verbose)


@app.command()
def load(target: TargetOption = None, reports: ReportsOption = Path("reports"),
         profile: Annotated[str, typer.Option(help="steady, spike, sustained, ramp, sweep, open, attribution (cost "
                                                   "per callback), a comma list, all (the plan's three)")] = "steady",
         duration_scale: Annotated[float, typer.Option(help="stage lengths times this; CI: 0.02")] = 1.0,
         workers: Annotated[int, typer.Option(help="Locust workers (master/worker mode); 0 = one process")] = 0,
         worker_provider: Annotated[str, typer.Option(help="--workers as local processes or containers (the "
                                                           "services image, host network)")] = "local",
         rate: Annotated[float, typer.Option(help="open profile: requests/s")] = 10.0,
         arrival: Annotated[str, typer.Option(help="open/sweep: constant or poisson")] = "constant",
         master_bind: Annotated[str | None, typer.Option(help="HOST:PORT remote workers connect to "
                                                              "(harness load-worker --master)")] = None,
         expect_workers: Annotated[int, typer.Option(help="with --master-bind: start when this many joined")] = 0,
         prompt_tokens: Annotated[str | None, typer.Option(help="synthetic prompts: N, normal:MEAN:SPREAD or "
                                                                "uniform:MIN:MAX tokens")] = None,
         output_tokens: Annotated[str | None, typer.Option(help="max_tokens per request, same forms")] = None,
         yes: Annotated[bool, typer.Option("--yes", help="send the load even where its estimated cost is above "
                                                          "max_spend_usd (real providers)")] = False,
         provider: ProviderOption = None, verbose: VerboseOption = False) -> None:
    """Run load profiles against the stack (LD-1..LD-6) and print the verdict; exit 0 only on GO."""
    from harness.load.plan import load_options

    try:
        options = load_options(profile=profile, duration_scale=duration_scale, workers=workers, rate=rate,
                               arrival=arrival, master_bind=master_bind, expect_workers=expect_workers,
                               prompt_tokens=prompt_tokens, output_tokens=output_tokens,
                               worker_provider=worker_provider)
    except ValueError as exc:
        raise _fail(f"{exc}; e.g. harness load --profile spike", 2) from None
    # attribution starts its own stacks, whose providers are always the harness's mock: nothing to spend
    planned = _collect("load", target, options, provider) if profile != "attribution" else {"over_cap": None}
    if "calls" in planned:
        console.print(f"load: estimated {planned['calls']} LLM calls, ${planned['usd']:.4f} at the plan's list "
                      "prices" + (" on real providers" if planned["real_providers"] else " (the harness's mock: no "
                                                                                       "money spent)"), highlight=False)
    if planned["over_cap"] and not yes:
        raise _fail(f"{planned['over_cap']}; or pass --yes to send it anyway", 2)
    _run_suite("load", target, reports, options + (["--spend-approved"] if yes else []), provider, verbose,
               diagnostic=profile == "attribution")


@app.command()
def alerting(target: TargetOption = None, reports: ReportsOption = Path("reports"),
             provider: ProviderOption = None, verbose: VerboseOption = False) -> None:
    """Start Prometheus + Alertmanager around the stack and cause each alert (AL-1..AL-5); exit 0 only on GO."""
    _run_suite("alerting", target, reports, [], provider, verbose)


@app.command()
def report(run: Annotated[Path | None, typer.Argument(help="run folder; default: reports/latest")] = None,
           reports: ReportsOption = Path("reports"),
           compare: Annotated[tuple[Path, Path] | None, typer.Option(help="RUN_A RUN_B: what changed from A to B")]
           = None,
           tolerance: Annotated[float | None, typer.Option(help="--compare: relative change that counts; default: "
                                                           "each criterion's own")] = None) -> None:
    """Build the sign-off page (index.html) of a run, or compare two runs; exit 1 on a regression."""
    from harness.report import build_report, compare_runs

    if compare is not None:
        try:
            changes = compare_runs(compare[0], compare[1], tolerance)
        except (FileNotFoundError, ValueError, KeyError) as exc:
            raise _fail(f"cannot compare: {exc}", 2) from None
        print_changes(f"{compare[0].name} -> {compare[1].name}", changes)
        bad = [c for c in changes if c.bad]
        console.print(f"{len(bad)} regression(s) or new failure(s)")
        raise typer.Exit(1 if bad else 0)
    folder = run or reports / "latest"
    try:
        path = build_report(folder.resolve())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise _fail(f"{exc}", 2) from None
    console.print(f"report: {path}")


app.command("upgrade-check")(upgrade_check)
app.command("load-worker")(load_worker)
images_app = typer.Typer(help="Images for the containers provider, built locally where no registry is reachable.")
app.add_typer(images_app, name="images")


@images_app.command("build")
def images_build(names: Annotated[list[str] | None, typer.Argument(help="only these (default: all)")] = None,
                 force: Annotated[bool, typer.Option("--force", help="rebuild present images")] = False) -> None:
    """Build local equivalents of every image the stack needs (debootstrap base + stack/images/*)."""
    from harness.images import MissingImage, build

    started = time.monotonic()
    try:
        built = build(names or None, force, log=lambda line: err.print(f"[dim]{line}[/]"))
    except MissingImage as exc:
        raise _fail(str(exc), 3) from None
    console.print(f"built {len(built)} image(s) in {time.monotonic() - started:.0f} s: {', '.join(built) or 'none'}"
                  " (present ones kept; --force rebuilds)")


@images_app.command("list")
def images_list() -> None:
    """Which images are present, and where they came from."""
    from harness.images import MissingImage, describe

    try:
        for name, state in describe().items():
            console.print(f"{name:9} {state}")
    except MissingImage as exc:
        raise _fail(str(exc), 3) from None


@app.command()
def doctor() -> None:
    """Say what the embedded stack needs that is missing, and the command that installs it."""
    from harness.doctor import diagnose

    table = Table(show_header=True)
    for column in ("component", "status", "fix"):
        table.add_column(column, overflow="fold")
    missing = False
    for item in diagnose():
        ok = item.found is not None
        missing |= item.required and not ok
        state = f"[green]{item.found}[/]" if ok else ("[red]missing[/]" if item.required else "[yellow]optional[/]")
        table.add_row(item.name, state, "" if ok else item.fix)
    console.print(table)
    raise typer.Exit(1 if missing else 0)


def main() -> None:
    app(prog_name="harness")


if __name__ == "__main__":
    sys.exit(main())
