"""`harness load --profile attribution`: the variants a config allows, the CPU per request read off the
gateway's process, and (the control) a planted hook that burns 40 ms of CPU per request is named as
costing about that, on the real LiteLLM of the embedded stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.load.attribution import Variant, cpu_per_request, variant_config, variants
from harness.load.driver import LoadRun
from harness.load.profiles import sweep
from harness.load.resources import ResourceSamples
from harness.load.samples import Sample, summarize
from harness.target import REFERENCE_CONFIG, REPO

_BURN = '''"""A planted cost: every request spends BURN_MS of CPU in this hook before LiteLLM calls the provider."""
import time

from litellm.integrations.custom_logger import CustomLogger

BURN_MS = 40


class Burn(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        end = time.process_time() + BURN_MS / 1000
        while time.process_time() < end:
            pass
        return data


handler = Burn()
'''


def test_the_reference_config_gives_one_variant_per_callback_hook_cache_and_auth() -> None:
    names = [v.name for v in variants(REFERENCE_CONFIG)]
    assert names == ["reference", "without escalation.handler", "without tenancy.handler", "without budgets.handler",
                     "without prometheus", "without langfuse", "without cache", "without custom_auth",
                     "without all of them", "reference, 2 workers", "reference, 4 workers", "reference (again)"]
    assert "without custom_auth" not in [v.name for v in variants(REFERENCE_CONFIG, keep_auth=True)]


def test_a_variant_config_switches_off_exactly_its_part(tmp_path: Path) -> None:
    reference = yaml.safe_load(REFERENCE_CONFIG.read_text())
    langfuse = variant_config(REFERENCE_CONFIG, Variant("x", ("callback:langfuse",)), tmp_path / "a")
    changed = yaml.safe_load(langfuse.read_text())
    assert changed["litellm_settings"]["success_callback"] == changed["litellm_settings"]["failure_callback"] == []
    assert changed["litellm_settings"]["callbacks"] == reference["litellm_settings"]["callbacks"]
    assert (langfuse.parent / "escalation.py").exists()  # the hooks travel with the config
    bare = variant_config(REFERENCE_CONFIG, Variant("y", ("cache", "custom_auth")), tmp_path / "b")
    changed = yaml.safe_load(bare.read_text())
    assert changed["litellm_settings"]["cache"] is False and "cache_params" not in changed["litellm_settings"]
    assert "custom_auth" not in changed["general_settings"] and changed["model_list"] == reference["model_list"]


def test_cpu_per_request_is_read_over_the_rates_kept_up_with() -> None:
    """2 s at 10/s then 2 s at 20/s; the process used 0.1 CPU-s per second in the first step, 0.5 after."""
    profile = sweep((10, 20), step_s=2)
    samples = [Sample(sent=100 + i / 10, intended=100 + i / 10, status=200, e2e_s=0.01, stage=0) for i in range(20)]
    samples += [Sample(sent=102 + i / 20, intended=102 + i / 20, status=200, e2e_s=0.01, stage=1) for i in range(40)]
    series = [{"at": 100 + t / 10, "cpu_s": 0.01 * t if t <= 20 else 0.2 + 0.05 * (t - 20)} for t in range(45)]
    run = LoadRun(profile, summarize(samples), ResourceSamples(pid=1, series=series), Path("."), 0, False, samples)
    ms, window = cpu_per_request(run, kept_up_to=10)
    assert ms == pytest.approx(10.0, rel=0.02) and window == "rates up to 10/s"
    assert cpu_per_request(run, kept_up_to=None)[0] == pytest.approx(1.2 / 60 * 1000, rel=0.02)
    unwatched = LoadRun(profile, summarize(samples), ResourceSamples(pid=None), Path("."), 0, False, samples)
    assert cpu_per_request(unwatched, 10) == (None, "the gateway's process was not observed")


def test_a_planted_cpu_hook_is_named_with_its_cost(tmp_path: Path) -> None:
    """The reference gateway with one more hook burning 40 ms of CPU per request, and with 2 workers: the row
    without the hook saves about those 40 ms, the table is printed and the report has it, with no verdict."""
    folder = tmp_path / "config"
    shutil.copytree(REFERENCE_CONFIG.parent, folder, ignore=shutil.ignore_patterns("__pycache__", "*.lock"))
    (folder / "burn.py").write_text(_BURN)
    config = yaml.safe_load(REFERENCE_CONFIG.read_text())
    # only the planted hook is switched in turn: three stacks (reference, without it, 2 workers) keep this short
    config["litellm_settings"].update(callbacks=["burn.handler"], success_callback=[], failure_callback=[],
                                      cache=False)
    config["general_settings"].pop("custom_auth")
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    target = tmp_path / "burn.target.yaml"
    target.write_text(yaml.safe_dump({"name": "planted-burn", "provider": "local",
                                      "litellm_config": str(folder / "config.yaml"),
                                      "load": {"models": ["gpt-4"], "stream_ratio": 0.0,
                                               "attribution_rates": [8, 16], "attribution_workers": [1, 2],
                                               "attribution_repeat": False}}))
    done = subprocess.run([sys.executable, "-m", "harness.cli", "load", "--profile", "attribution", "--target",
                           str(target), "--duration-scale", "0.6", "--reports", str(tmp_path / "reports")],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "COLUMNS": "200"}, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "without burn.handler" in done.stdout and "no verdict" in done.stdout
    run = (tmp_path / "reports" / "latest").resolve()
    rows = {r["variant"]: r for r in json.loads((run / "attribution.json").read_text())["rows"]}
    assert list(rows) == ["reference", "without burn.handler", "reference, 2 workers"]
    reference, without, doubled = rows.values()
    assert all(r["success_ratio"] == 1.0 and r["requests"] > 50 for r in rows.values()), rows
    assert reference["cpu_ms_per_request"] >= 40, reference
    assert 28 <= without["saves_cpu_ms"] <= 52, without  # the planted 40 ms, measured from outside
    assert doubled["workers"] == 2 and doubled["cpu_ms_per_request"] >= 40, doubled
    page = (run / "index.html").read_text()
    assert 'id="attribution"' in page and "No verdict" in page and "Why NO-GO" not in page
