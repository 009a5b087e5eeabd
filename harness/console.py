"""What the `harness` command prints: the verdict table of a run, and the plan of one before it starts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.results import RunResults, plain

if TYPE_CHECKING:
    from harness.report.compare import Change

__all__ = ["STATUS_COLOURS", "console", "err", "fail", "print_changes", "print_plan", "print_verdict"]

# CI logs are not terminals: give tables room instead of folding every cell at 80 columns
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
STATUS_COLOURS = {"PASS": "green", "FAIL": "red", "SKIP": "yellow", "ERROR": "magenta"}


def fail(message: str, code: int) -> typer.Exit:
    """The CLI's one-line error: printed to stderr, returned as the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def print_verdict(path: Path) -> None:
    """One compact table (failures first, measured against required in words), why a NO-GO is one, how
    much was verified, then the verdict."""
    run = RunResults.read(path)
    order = {"FAIL": 0, "ERROR": 1, "SKIP": 2, "PASS": 3}
    table = Table(title=f"{run.suite} · {run.target} · provider {run.provider}", show_header=True)
    for column in ("status", "ID", "case", "measured (required)"):
        table.add_column(column, overflow="fold")
    colours = STATUS_COLOURS
    for rec in sorted(run.records, key=lambda r: order[r.status]):
        line = rec.measured_vs_threshold() if rec.status in ("PASS", "FAIL") else rec.detail
        table.add_row(f"[{colours[rec.status]}]{rec.status}[/]", rec.id, rec.case, line[:160])
    console.print(table)
    for rec in run.records:
        if rec.status in ("FAIL", "ERROR"):
            console.print(f"[{colours[rec.status]}]{rec.id}[/]{f' [{rec.case}]' if rec.case else ''}: "
                          f"{rec.detail}", highlight=False, markup=True)
    if run.deviations:
        console.print("deviations from the seed plans: " + "; ".join(run.deviations), highlight=False)
    if run.standins:
        console.print("stand-ins: " + "; ".join(run.standins), highlight=False)
    if run.spend is not None:
        console.print(run.spend.line(), highlight=False)
    verdict = run.verdict
    console.print(f"{run.coverage()}", highlight=False)
    traces = path.parent / "tracebacks.log"
    if traces.exists():
        console.print(f"tracebacks: {traces}", highlight=False)
    console.print(f"[bold {'green' if verdict == 'GO' else 'red'}]{verdict}[/]   results: {path}")


def print_plan(document: dict[str, Any]) -> None:
    """`harness plan`: each criterion of a suite, whether it runs (else why not, and the field that lets it),
    its LLM calls and their cost at the plan's list prices; then the suite's one line."""
    table = Table(title=f"{document['suite']}: what will run", show_header=True)
    for column in ("ID", "test", "cases", "runs", "LLM calls", "est. USD", "to run it, add"):
        table.add_column(column, overflow="fold")
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in document["rows"]:  # a chaos scenario's cases (chain x variant) on one line
        test = row["test"].split("[", 1)[0] + ("[" + row["test"].split("[")[1].rstrip("]") + "]"
                                                if "[" in row["test"] else "")
        groups.setdefault((test, ", ".join(row["ids"]), str(row["runs"]), row["why"]), []).append(row)
    for (test, ids, _, why), rows in sorted(groups.items(), key=lambda g: (not g[1][0]["runs"], g[0][1])):
        runs = rows[0]["runs"]
        calls = "?" if any(r["calls"] is None for r in rows) else str(sum(r["calls"] for r in rows))
        table.add_row(ids, escape(test), str(len(rows)), "[green]yes[/]" if runs else "[yellow]SKIP[/]",
                      calls if runs else "-", f"{sum(r['usd'] for r in rows):.4f}" if runs else "-",
                      escape(why[:200]))
    console.print(table)
    console.print(document["line"], highlight=False)
    if document.get("over_cap"):
        console.print(f"[red]{document['over_cap']}[/]", highlight=False)


def print_changes(title: str, changes: list[Change], before: str = "before", after: str = "after") -> None:
    """What changed between two runs: new failures and regressions red, fixes and improvements green."""
    table = Table(title=title, show_header=True)
    for column in ("change", "ID", "case", before, after, "detail"):
        table.add_column(column, overflow="fold")
    for change in changes:
        colour = "red" if change.bad else "green" if change.kind in ("fixed", "improvement") else "yellow"
        table.add_row(f"[{colour}]{change.kind}[/]", change.id, escape(change.case), escape(plain(change.before)),
                      escape(plain(change.after)), escape(change.detail[:100]))
    console.print(table if changes else f"{title}: no changes beyond the tolerance", highlight=False)
