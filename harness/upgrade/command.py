"""`harness upgrade-check`: what breaks, on this target and config, if LiteLLM moves from the pin to X.

Exit codes: 0 no candidate breaks anything the pinned release passed, 1 a candidate does (a new FAIL or
ERROR, a lost result, a hook that no longer fits, a stack that does not start; `--strict`: a measured
value that regressed beyond the tolerance too), 2 bad input, 3 a candidate could not be installed or the
pinned release itself did not run.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from harness.console import STATUS_COLOURS, console, err, print_changes
from harness.console import fail as _fail
from harness.upgrade.candidate import Candidate

__all__ = ["upgrade_check"]

_SUITES = ("acceptance", "chaos")


def upgrade_check(
        litellm: Annotated[list[str], typer.Option("--litellm", help="a candidate: a release number (installed from "
                                                   "the package index into its own venv, from a hashed lock) or an "
                                                   "installed litellm's venv or binary; repeatable: a matrix")],
        target: Annotated[Path | None, typer.Option("--target", "-t", help="target file; default: embedded stack")]
        = None,
        suites: Annotated[str, typer.Option(help="comma list of acceptance, chaos")] = "acceptance,chaos",
        pinned: Annotated[str | None, typer.Option(help="the release to compare with (number or path); default: "
                                                 "the harness's pinned LiteLLM")] = None,
        keyword: Annotated[str | None, typer.Option("-k", help="acceptance: only checks matching this pytest -k")]
        = None,
        scenario: Annotated[list[str] | None, typer.Option(help="chaos: only this scenario (repeatable)")] = None,
        quick: Annotated[bool, typer.Option("--quick", help="chaos: CI-sized (first chain, quick variants)")] = False,
        deny: Annotated[list[str] | None, typer.Option(help="a release never to install (repeatable); 1.82.7 and "
                                                       "1.82.8 are always refused")] = None,
        tolerance: Annotated[float | None, typer.Option(help="relative change of a measured value that counts; "
                                                        "default: each criterion's own")] = None,
        strict: Annotated[bool, typer.Option("--strict", help="a regression beyond the tolerance blocks too")] = False,
        requirements: Annotated[Path | None, typer.Option(help="the gateway's direct requirements besides litellm "
                                                          "(its callbacks' packages); default: "
                                                          "stack/litellm/requirements.in")] = None,
        reports: Annotated[Path, typer.Option("--reports", help="where run folders go")] = Path("reports")) -> None:
    """Run the suites on the pinned LiteLLM and on each candidate with the same target and config; print what
    newly fails, what regressed, what newly passes; exit 1 if a candidate breaks anything."""
    from harness.providers.wiring import find_litellm
    from harness.results import new_run_dir
    from harness.target import REFERENCE_CONFIG, REPO, Target, TargetError, load_target
    from harness.upgrade.candidate import REQUIREMENTS, CandidateError, installed, resolve_candidate
    from harness.upgrade.gate import GateError, matrix, run_gate
    from harness.upgrade.hooks import HookError, hook_files, uses

    chosen = [s.strip() for s in suites.split(",") if s.strip()]
    if not chosen or any(s not in _SUITES for s in chosen):
        raise _fail(f"--suites {suites}: use a comma list of {', '.join(_SUITES)}", 2)
    try:
        spec = load_target(target) if target else Target.embedded()
    except TargetError as exc:
        raise _fail(str(exc), 2) from None
    if spec.provider not in ("local", "containers"):
        raise _fail(f"upgrade-check starts each release itself; {spec.name} is provider {spec.provider}: give a "
                    "target with provider local or containers (its litellm_config is the config under test)", 2)
    config = spec.litellm_config or REFERENCE_CONFIG
    refused, needs = frozenset(deny or []), requirements or REQUIREMENTS
    if not needs.is_file():
        raise _fail(f"--requirements {needs}: no such file; give a requirements file with a litellm line", 2)
    try:
        base = resolve_candidate(pinned, denied=refused, requirements=needs, log=_note) if pinned else \
            installed(find_litellm())
        candidates, unusable = [], {}
        for item in litellm:
            try:
                candidates.append(resolve_candidate(item, denied=refused, requirements=needs, log=_note))
            except CandidateError as exc:
                if exc.code == 2:
                    raise
                # one release that does not install blocks itself, not the rest of the matrix
                unusable[item] = f"could not be installed: {exc}"
                _note(f"litellm {item}: {unusable[item]}")
    except CandidateError as exc:
        raise _fail(str(exc), exc.code) from None
    except RuntimeError as exc:  # the pinned LiteLLM is missing
        raise _fail(str(exc), 3) from None
    if not candidates:
        raise _fail("no candidate could be installed: " + "; ".join(f"{k} {v}" for k, v in unusable.items()), 3)
    if spec.provider == "containers":
        base, *candidates = [_with_image(c) for c in (base, *candidates)]
    base = _labelled(base, "pinned ")
    # a candidate of the pinned version (a patched build) is told apart by its venv's folder
    candidates = [_labelled(c, "" if c.version != base.version else f"{c.binary.parent.parent.name} ")
                  for c in candidates]
    hooks = [use for path in hook_files(config) for use in uses(path)]
    _note(f"hooks checked against each candidate's API: {', '.join(sorted({u.hook.name for u in hooks})) or 'none'}")
    target_args = ["--target", str(target.resolve())] if target else []
    args = {"acceptance": target_args + (["-k", keyword] if keyword else []),
            "chaos": target_args + (["--quick"] if quick else []) + [a for s in scenario or [] for a in ("--scenario",
                                                                                                         s)]}
    folder = new_run_dir(reports, "upgrade")
    _note(f"runs: {folder}")
    try:
        baselines, verdicts = run_gate(base, candidates, suites=chosen, args=args, folder=folder, uses=hooks,
                                       root=REPO, tolerance=tolerance, log=_note)
    except (GateError, HookError) as exc:
        raise _fail(str(exc), 3) from None
    blocked = False
    for verdict in verdicts:
        for suite, changes in verdict.changes.items():
            print_changes(f"{suite}: litellm {base.label} -> {verdict.candidate.label}", changes, "pinned", "candidate")
        regressions = [c for changes in verdict.changes.values() for c in changes if c.kind == "regression"]
        reasons = verdict.summary() + ([f"{c.id} regressed: {c.detail}" for c in regressions] if strict else [])
        blocked |= bool(reasons)
        if reasons:
            console.print(f"[bold red]litellm {escape(verdict.candidate.label)}: BLOCKED[/]: "
                          + escape("; ".join(reasons)), highlight=False, soft_wrap=True)
        else:
            console.print(f"[bold green]litellm {verdict.candidate.label}: nothing the pinned release passed "
                          f"breaks[/] ({len(regressions)} value(s) regressed beyond the tolerance)", highlight=False)
        for run in verdict.runs.values():
            if run.run_dir is not None:
                console.print(f"  report: {run.run_dir / 'index.html'}", highlight=False)
    for item, reason in unusable.items():
        blocked = True
        console.print(f"[bold red]litellm {escape(item)}: BLOCKED[/]: {escape(reason)}", highlight=False,
                      soft_wrap=True)
    columns, rows = matrix(base.label, baselines, verdicts)
    table = Table(title="criterion x release", show_header=True)
    for column in ("ID", *columns):
        table.add_column(column)
    for ident, row in sorted(rows.items()):
        table.add_row(ident, *(f"[{STATUS_COLOURS.get(s, 'dim')}]{s}[/]" for s in row))
    console.print(table)
    (folder / "upgrade-summary.json").write_text(json.dumps(
        {"pinned": base.label, "candidates": [v.candidate.label for v in verdicts], "matrix": rows,
         "columns": columns, "blocking": {**{v.candidate.label: v.blocking for v in verdicts},
                                          **{item: [reason] for item, reason in unusable.items()}}}, indent=2))
    raise typer.Exit(1 if blocked else 0)


def _with_image(candidate: Candidate) -> Candidate:
    """provider containers: the release's gateway image, built by the same Dockerfile from its lock."""
    from harness.images import MissingImage, build_litellm

    if candidate.lock is None:
        raise _fail(f"litellm {candidate.version} ({candidate.binary}): the containers provider builds each release's "
                    "image from its lock, and this install has none; give a release number instead", 2)
    try:
        return replace(candidate, image=build_litellm(candidate.lock, candidate.version, log=_note))
    except MissingImage as exc:
        raise _fail(str(exc), 3) from None


def _labelled(candidate: Candidate, prefix: str) -> Candidate:
    return replace(candidate, label=f"{prefix}{candidate.version}")


def _note(line: str) -> None:
    err.print(f"[dim]{line}[/]", highlight=False, soft_wrap=True)
