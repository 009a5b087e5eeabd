"""`harness chaos --scenario <case>` (one retry-discipline case per criterion) on the embedded stack with
the reference config's num_retries set to 2 (the target setting): RTY-1..RTY-3 are measured on the real
LiteLLM, each with its timeline; RTY-4 is a verdict only where the gateway answered by itself (else a SKIP
saying why)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from harness.gateway_config import read_retries
from harness.providers.wiring import run_config
from harness.target import REFERENCE_CONFIG, REPO, Target, TargetError, load_target


def test_the_retry_cases_run_on_the_embedded_gateway_with_its_num_retries(tmp_path: Path) -> None:
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"name": "embedded, num_retries 2", "provider": "local", "num_retries": 2,
                                      "litellm_config": str(REFERENCE_CONFIG), "router_timeout_s": 5}))
    # one case per criterion (each case's verdicts and controls are tests/checks/test_retries.py's; the whole
    # scenario waits out ten cooldowns, ~170 s)
    cases = [arg for name in ("rate-limited-429", "bad-request-400", "total-outage-503", "cooled-down-503")
             for arg in ("--scenario", name)]
    result = subprocess.run([sys.executable, "-m", "harness.cli", "chaos", *cases,
                             "--target", str(target), "--reports", str(tmp_path / "reports")],
                            capture_output=True, text=True, cwd=REPO, timeout=600)
    data = json.loads((tmp_path / "reports" / "latest" / "results.json").read_text())
    records = [r for r in data["records"] if r["id"].startswith("RTY-")]
    assert {r["id"] for r in records} == {"RTY-1", "RTY-2", "RTY-3", "RTY-4"}, result.stdout[-3000:]
    assert all(r["evidence"].get("num_retries") == 2 for r in records if r["status"] != "SKIP")
    # RTY-1: the 429 case retried twice, each wait measured against the Retry-After asked (1 s, then 2 s)
    rate_limited = next(r for r in records if r["case"].endswith("rate-limited-429"))
    assert rate_limited["measured"]["asked_s"] == [1, 2] and len(rate_limited["measured"]["waits_s"]) == 2
    outage = next(r for r in records if r["id"] == "RTY-3")
    assert outage["measured"]["bound"] == 9 and outage["evidence"]["amplification"]["provider_attempts"] > 0
    # the verdict follows the records: GO only without a FAIL
    assert (result.returncode == 0) == (data["verdict"] == "GO")
    assert "retry-timelines" in (tmp_path / "reports" / "latest" / "index.html").read_text()


def test_num_retries_runs_a_copy_of_the_config_which_the_checks_read(tmp_path: Path) -> None:
    target = run_config(Target.embedded().model_copy(update={"num_retries": 3}), tmp_path)
    assert target.litellm_config is not None and target.litellm_config.parent != REFERENCE_CONFIG.parent
    assert read_retries(target.litellm_config) == (3, "router_settings.num_retries")
    assert (target.litellm_config.parent / "auth.py").exists()  # the config's hooks beside it
    assert read_retries(REFERENCE_CONFIG) == (0, "router_settings.num_retries")  # the original is untouched


def test_num_retries_on_a_deployment_is_refused_naming_where_to_set_it(tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text("provider: external\ngateway: {url: 'http://127.0.0.1:4000'}\nnum_retries: 1\n")
    try:
        load_target(path)
    except TargetError as exc:
        assert "num_retries: only a stack the harness starts" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("num_retries on an external target was accepted")
