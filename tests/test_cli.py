"""The CLI: one-line errors with exit 2 for bad input, exit 1 on NO-GO, and a results file either way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.target import REFERENCE_CONFIG, REPO


def _harness(*args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


def _results(latest: Path, result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The run's results, or a failure that says why the run left none (its output's tail)."""
    path = latest.resolve() / "results.json"
    assert path.exists(), f"no results.json (exit {result.returncode}): {result.stderr[-1500:]} {result.stdout[-1500:]}"
    return dict(json.loads(path.read_text()))


@pytest.mark.parametrize(("text", "expected"), [
    ("gateway:\n  url: [", "line 2"),
    ("provider: external\ngateway:\n  url: http://127.0.0.1:9\n  mastr_key: x\n", "did you mean 'master_key'?"),
    ("provider: external\nbackup: {store: ftp://host/x}\n", "backup.store: Value error, use file:///path"),
])
def test_a_malformed_target_is_one_line_and_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    target = tmp_path / "target.yaml"
    target.write_text(text)
    result = _harness("acceptance", "--target", str(target), "--reports", str(tmp_path / "reports"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and str(target) in lines[0]
    assert not (tmp_path / "reports").exists()


def test_a_dead_external_gateway_is_one_line_and_exit_3_before_any_suite(tmp_path: Path) -> None:
    target = tmp_path / "target.yaml"
    target.write_text("provider: external\ngateway:\n  url: http://127.0.0.1:9\n  master_key: k\n"
                      f"litellm_config: {REFERENCE_CONFIG}\n")
    result = _harness("acceptance", "--target", str(target), "--reports", str(tmp_path / "reports"))
    assert result.returncode == 3, result.stdout[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: gateway.url: http://127.0.0.1:9 is unreachable (ConnectError")
    assert "check the URL in the target file" in lines[0]
    assert "Traceback" not in result.stdout and not list((tmp_path / "reports").glob("*/results.json"))


def test_a_broken_embedded_stack_is_a_no_go_and_leaves_no_process(tmp_path: Path) -> None:
    config = tmp_path / "litellm" / "config.yaml"
    config.parent.mkdir()
    for hook in REFERENCE_CONFIG.parent.glob("*.py"):
        (config.parent / hook.name).write_text(hook.read_text())
    text = REFERENCE_CONFIG.read_text()
    config.write_text(text.replace("  - model_name: claude-3\n", "  - model_name: claude-3-renamed\n"))
    target = tmp_path / "target.yaml"
    target.write_text(f"name: renamed-model\nprovider: local\nlitellm_config: {config}\n"
                      f"models:\n  - name: gpt-4\n  - name: claude-3\n  - name: gemini-2\n")
    result = _harness("acceptance", "--target", str(target), "--reports", str(tmp_path / "reports"), "-k", "gw_2")
    assert result.returncode == 1, result.stdout[-3000:]
    data = _results(tmp_path / "reports" / "latest", result)
    assert data["records"][0]["id"] == "GW-2" and data["records"][0]["status"] == "FAIL"
    assert data["versions"]["litellm"] == data["versions"]["litellm_pinned"]
    assert any("stand-in" in s for s in data["standins"])
    pids = json.loads(next((tmp_path / "reports").glob("*/logs/pids.json")).read_text())
    assert pids and all(not Path(f"/proc/{pid}").exists() for pid in pids.values())


def test_doctor_lists_what_the_stack_needs() -> None:
    result = _harness("doctor")
    assert result.returncode == 0, result.stdout
    for name in ("redis-server", "initdb", "LiteLLM proxy (pinned)"):
        assert name in result.stdout


def test_chaos_through_the_cli_on_an_external_target(stack, tmp_path: Path) -> None:
    """`harness chaos` against a running stack (the shared embedded one, as an external target)."""
    import yaml

    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump(stack.target_document(), sort_keys=False))
    result = _harness("chaos", "--quick", "--scenario", "primary-failure", "--target", str(target),
                      "--reports", str(tmp_path / "reports"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
    data = _results(tmp_path / "reports" / "latest", result)
    assert data["suite"] == "chaos" and data["provider"] == "external" and data["verdict"] == "GO"
    records = {(r["id"], r["case"]) for r in data["records"]}
    assert ("FB-2", "gpt-4 > claude-3 > gemini-2 / timeout") in records
    assert {r["id"] for r in data["records"]} == {"FB-1", "FB-2", "FB-3"}
    timeout = next(r for r in data["records"] if r["id"] == "FB-2" and r["case"].endswith("timeout"))
    assert 0 < timeout["measured"] < 5 and any(e["event"] == "fault off" for e in timeout["evidence"]["timeline"])
    # the sign-off page was built, with the chaos timelines, and no secret of the target is in the run folder
    run = (tmp_path / "reports" / "latest").resolve()
    html = (run / "index.html").read_text()
    assert 'data-verdict="GO"' in html and "Chaos timelines" in html and (run / "junit.xml").exists()
    secrets = stack.secrets()
    assert len(secrets) >= 5
    for path in (p for p in run.rglob("*") if p.is_file()):
        content = path.read_bytes()
        leaked = [s[:6] for s in secrets if s.encode() in content]
        assert not leaked, f"{path.relative_to(run)} contains secrets starting {leaked}"


def test_load_profiles_through_the_cli_on_the_embedded_stack(tmp_path: Path) -> None:
    """`harness load --profile all` at CI scale: every LD criterion measured, samples and series on disk."""
    result = _harness("load", "--profile", "all", "--duration-scale", "0.005", "--reports", str(tmp_path / "r"),
                      timeout=600)
    run = (tmp_path / "r" / "latest").resolve()
    data = json.loads((run / "results.json").read_text())
    assert result.returncode == (0 if data["verdict"] == "GO" else 1), result.stdout[-3000:] + result.stderr[-2000:]
    measured = {(r["id"], r["case"]): r["measured"] for r in data["records"]}
    for ident, case in [("LD-1", "steady"), ("LD-2", "spike"), ("LD-3", "sustained"), ("LD-6", "")]:
        assert measured[(ident, case)] is not None, data["records"]
    for profile in ("steady", "spike", "sustained"):
        assert measured[("LD-4", profile)]["p95_ms"] > 0 and measured[("LD-5", profile)]["restarts"] == 0
        assert (run / "load" / profile / "samples.jsonl").stat().st_size > 0
    series = json.loads((run / "load.json").read_text())["spike"]
    assert series["summary"]["rps_series"] and series["resources"]["series"]


def test_an_unknown_load_profile_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _harness("load", "--profile", "stedy", "--reports", str(tmp_path))
    assert result.returncode == 2 and "unknown load profile 'stedy'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_alerting_through_the_cli_on_the_embedded_stack(tmp_path: Path) -> None:
    """`harness alerting`: every condition caused, every alert notified on both channels and resolved."""
    result = _harness("alerting", "--reports", str(tmp_path / "r"), timeout=600)
    data = _results(tmp_path / "r" / "latest", result)
    failed = [(r["id"], r["case"], r["detail"]) for r in data["records"] if r["status"] != "PASS"]
    assert result.returncode == 0 and data["verdict"] == "GO", (failed, result.stdout[-2000:])
    cases = {(r["id"], r["case"]) for r in data["records"]}
    assert {("AL-1", "gateway"), ("AL-1", "cache"), ("AL-2", ""), ("AL-3", ""), ("AL-4", "quota"),
            ("AL-4", "spend")} <= cases
    assert sum(1 for ident, _ in cases if ident == "AL-5") == 5  # a day's spend does not resolve within the run
    for record in data["records"]:
        seconds = record["measured"].get("notified_after_s", record["measured"].get("resolved_after_s"))
        assert 0 < seconds <= record["threshold"].get("notified_after_s", record["threshold"].get("resolved_after_s"))
