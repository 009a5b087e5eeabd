"""The spend guard end to end, through `harness acceptance` on a stack given as a target file: a cap below
the run's estimate refuses before the first call; a call whose worst case passes the cap is never sent and
stops the run with what was verified so far; the report says what the harness spent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from harness.stack import Stack
from harness.target import REPO


def _target(stack: Stack, folder: Path, **extra: Any) -> Path:
    path = folder / "target.yaml"
    path.write_text(yaml.safe_dump({**stack.target_document(), **extra}, sort_keys=False))
    path.chmod(0o600)
    return path


def _harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "COLUMNS": "200"}, timeout=600)


def _sent_since(stack: Stack, seq: int) -> list[dict[str, Any]]:
    mock = stack.mock()
    assert mock is not None
    try:
        return mock.requests(since=seq)
    finally:
        mock.close()


def _last_seq(stack: Stack) -> int:
    mock = stack.mock()
    assert mock is not None
    try:
        return mock.last_seq()
    finally:
        mock.close()


def test_a_cap_below_the_estimate_refuses_before_the_first_call(stack: Stack, tmp_path: Path) -> None:
    seq = _last_seq(stack)
    result = _harness("acceptance", "--target", str(_target(stack, tmp_path, max_spend_usd=0.001)),
                      "--reports", str(tmp_path / "reports"), "-k", "gw_3 or mod_1")
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: spend guard: this acceptance run is estimated at $"), result.stderr
    assert "max_spend_usd $0.00" in result.stderr and "harness plan" in result.stderr
    assert _sent_since(stack, seq) == []  # nothing reached a provider


def test_a_call_whose_worst_case_passes_the_cap_is_never_sent_and_stops_the_run(stack: Stack,
                                                                              tmp_path: Path) -> None:
    # MOD-3's estimate (3 calls of ~1,600 tokens in at gpt-4's price, ~$0.054) fits under $0.07; its first call
    # has a worst case of every input byte as a token (~8,300 at $10/M, ~$0.084): the guard must refuse it
    seq = _last_seq(stack)
    reports = tmp_path / "reports"
    result = _harness("acceptance", "--target", str(_target(stack, tmp_path, max_spend_usd=0.07)),
                      "--reports", str(reports), "-k", "mod_3")
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr
    assert "not sent" in result.stderr and "max_spend_usd $0.07" in result.stderr
    assert _sent_since(stack, seq) == []
    data = json.loads((reports / "latest" / "results.json").read_text())
    assert data["verdict"] == "NO-GO" and data["stopped"].startswith("spend guard: the next call (gpt-4")
    assert data["reasons"][0].startswith("the run stopped before its end: spend guard")
    assert data["spend"]["calls"] == 0 and data["spend"]["refused"]


def test_the_report_shows_what_the_harness_spent(stack: Stack, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = _harness("acceptance", "--target", str(_target(stack, tmp_path)), "--reports", str(reports),
                      "-k", "gw_3")
    assert result.returncode == 0, result.stdout[-2000:]
    data = json.loads((reports / "latest" / "results.json").read_text())
    models = len([m for m in stack.target.models if m.mode == "chat"])
    assert data["spend"]["by_criterion"]["GW-3"]["calls"] == models and data["spend"]["usd"] > 0
    assert data["preview"].startswith("plan: 1 of 1 criteria will run")
    page = (reports / "latest" / "index.html").read_text()
    assert "harness spend: $0 on real providers" in page and "GW-3" in page
    assert "harness spend:" in result.stdout
