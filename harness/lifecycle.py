"""`harness up`, `down` and `status`: the embedded stack kept running for manual work, its state (pids,
target file with keys, mode 0600) under HARNESS_STATE_DIR (default reports/.stack)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from harness.console import console, err
from harness.console import fail as _fail
from harness.results import new_run_dir
from harness.target import REPO, Target, TargetError, load_target

__all__ = ["ReportsOption", "TargetOption", "down", "read_target", "status", "up"]

STATE_DIR = Path(os.environ.get("HARNESS_STATE_DIR", REPO / "reports" / ".stack"))
TargetOption = Annotated[Path | None, typer.Option("--target", "-t", help="target file; default: embedded stack")]
ReportsOption = Annotated[Path, typer.Option("--reports", help="where run folders go")]


def read_target(path: Path | None) -> Target:
    """The target file (default: the embedded stack); a bad file is a one-line error, exit 2."""
    if path is None:
        return Target.embedded()
    try:
        return load_target(path)
    except TargetError as exc:
        raise _fail(str(exc), 2) from None


def up(target: TargetOption = None, reports: ReportsOption = Path("reports")) -> None:
    """Start the embedded stack and keep it until `harness down` or Ctrl-C."""
    from harness.providers import LocalProvider, MissingDependency

    spec = read_target(target)
    if spec.provider != "local":
        raise _fail(f"`up` starts the embedded stack; {spec.name} is provider {spec.provider}", 2)
    state = STATE_DIR / "state.json"
    if state.exists() and _alive(json.loads(state.read_text()).get("up_pid", 0)):
        raise _fail(f"a stack is already up (state {state}); run `harness down` first", 2)
    run_dir = new_run_dir(reports, "up")
    provider = LocalProvider(spec, run_dir)
    try:
        with console.status("starting Redis, Postgres, mock providers, Langfuse stand-in, LiteLLM, router and bot ..."):
            stack = provider.start()
    except (MissingDependency, RuntimeError) as exc:
        raise _fail(str(exc), 3) from None
    stopping = {"now": False}

    def stop(signum: int, frame: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        # the target file first, then the state file: a reader that sees the state finds a whole target
        target_file = STATE_DIR / "target.yaml"
        _write_private(target_file, yaml.safe_dump(stack.target_document(), sort_keys=False))
        stack.write_state(state)
        data = json.loads(state.read_text())
        data["up_pid"] = os.getpid()
        _write_private(state, json.dumps(data, indent=2))
        table = Table(title=f"stack up in {stack.startup_s['total']:.1f} s", show_header=True)
        table.add_column("service")
        table.add_column("endpoint")
        table.add_row("gateway (LiteLLM)", stack.gateway_url)
        table.add_row("langfuse (stand-in)", stack.target.langfuse.url if stack.target.langfuse else "-")
        table.add_row("mock providers", stack.mock_url or "-")
        table.add_row("routing webhook", stack.target.router_url or "-")
        table.add_row("Telegram Bot API (stand-in)", stack.target.telegram_url or "-")
        table.add_row("notification sink", stack.target.alerts_url or "-")
        for name, value in (("redis", stack.target.redis_url), ("postgres", stack.target.postgres_url)):
            table.add_row(name, value.get_secret_value() if value else "-")
        console.print(table)
        console.print("keys: master key, provider keys and Langfuse keys are in the target file (mode 0600):")
        console.print(f"  {target_file}")
        console.print(f"  harness acceptance --target {target_file}")
        console.print(f"logs: {stack.log_dir}   stop: harness down (or Ctrl-C)")
        while not stopping["now"]:
            dead = [n for n, pid in stack.pids.items() if not _alive(pid)]
            if dead:
                err.print(f"[red]service exited:[/] {', '.join(dead)}; stopping the stack (logs in {stack.log_dir})")
                break
            time.sleep(0.5)
    finally:
        provider.stop()
        for path in (state, STATE_DIR / "target.yaml"):
            path.unlink(missing_ok=True)
        console.print("stack stopped")


def _write_private(path: Path, text: str) -> None:
    """Mode 0600 from the start, replaced in one step: never a half-written or world-readable file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.touch(mode=0o600)
    tmp.write_text(text)
    tmp.replace(path)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def down(wait_s: Annotated[float, typer.Option(help="seconds to wait for a clean stop")] = 30.0) -> None:
    """Stop the stack that `harness up` started."""
    state = STATE_DIR / "state.json"
    if not state.exists():
        console.print("no stack is up")
        return
    pid = int(json.loads(state.read_text()).get("up_pid", 0))
    if not _alive(pid):
        state.unlink(missing_ok=True)
        console.print("the `harness up` process is gone; its reaper ended the services")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        raise _fail(f"`harness up` (pid {pid}) did not stop within {wait_s:g} s; kill it: the reaper cleans up", 1)
    console.print("stack stopped")


def status() -> None:
    """Show whether a stack is up, and each service's state."""
    state = STATE_DIR / "state.json"
    if not state.exists():
        console.print("no stack is up")
        raise typer.Exit(1)
    data = json.loads(state.read_text())
    table = Table(show_header=True)
    table.add_column("service")
    table.add_column("pid")
    table.add_column("state")
    for name, pid in {"harness up": data.get("up_pid", 0), **data["pids"]}.items():
        table.add_row(name, str(pid), "[green]running[/]" if _alive(pid) else "[red]gone[/]")
    console.print(table)
    console.print(f"gateway: {data['target']['gateway']['url']}")
