"""`harness load-worker --master HOST:PORT`: one Locust worker of a distributed `harness load` run.

Run it on each load machine (or container, or pod: stack/k8s/load-workers.yaml). It takes the run's
spec from the master, refuses a target that is neither loopback nor named by its own `--allow-host`,
and ships every sample back. The gateway key comes from this machine's HARNESS_LOAD_KEY: it never
crosses the master link, which is plain ZeroMQ.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from harness.console import fail
from harness.load.hosts import parse_address

__all__ = ["load_worker"]


def load_worker(master: Annotated[str, typer.Option(help="the master's HOST:PORT (harness load --master-bind)")],
                allow_host: Annotated[list[str] | None, typer.Option(
                    help="a non-loopback gateway host this worker may load (repeatable)")] = None) -> None:
    """Join a distributed load run as one Locust worker; ends when the master finishes."""
    try:
        host, port = parse_address(master, "--master")
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    if not os.environ.get("HARNESS_LOAD_KEY"):
        raise fail("HARNESS_LOAD_KEY is not set: export the gateway key (or comma-separated team keys) this worker "
                   "sends; it never crosses the master link", 2)
    argv = [sys.executable, "-m", "harness.load.runner", "--worker", "--connect", host, "--port", str(port),
            *[arg for name in allow_host or [] for arg in ("--allow-host", name)]]
    sys.stdout.flush()
    # the runner replaces this process: signals (Ctrl-C, a pod's TERM) reach it directly and nothing is orphaned
    os.execv(sys.executable, argv)
