"""`harness load --profile attribution`: the same sweep against the target's config with each callback or
hook switched off in turn and with more LiteLLM workers, a fresh stack per variant (local or containers).

Writes `attribution.json` (the rows) and each variant's samples under `attribution/<n>/`; judges no
criterion: it says which callback costs what, and how many workers move the knee.
"""

import contextlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.checks.load import knee
from harness.load.attribution import Row, attribution_profile, noise, row_for, variant_config, variants
from harness.load.driver import LoadRefused, run_load
from harness.load.plan import progress_printer, spec_for
from harness.providers import provider_for
from harness.target import Target


def test_attribution(target: Target, pytestconfig: pytest.Config, run_dir: Path,
                     diagnostic_run: Callable[[str], None]) -> None:
    if target.provider not in ("local", "containers") or target.litellm_config is None:
        pytest.exit("load: --profile attribution restarts the gateway with changed configs: it runs on a stack "
                    "the harness starts from a config (provider local or containers)", returncode=2)
    settings, options = target.load, pytestconfig.option
    chosen = variants(target.litellm_config, settings.attribution_workers, keep_auth=settings.keys == "teams",
                      repeat=settings.attribution_repeat)
    profile = attribution_profile(settings.attribution_rates, options.duration_scale)
    diagnostic_run(f"load attribution: {len(chosen)} variants of {target.litellm_config.name}, each {profile.summary}")
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    rows: list[Row] = []
    out = run_dir / "attribution.json"
    with capture.global_and_fixture_disabled():
        for index, variant in enumerate(chosen, 1):
            folder = run_dir / "attribution" / f"{index:02d}-{re.sub(r'[^a-z0-9]+', '-', variant.name.lower())}"
            print(f"attribution {index}/{len(chosen)}: {variant.name} (starting its stack)", flush=True)
            config = variant_config(target.litellm_config, variant, folder)
            provider = provider_for(target.with_litellm_config(config), folder, gateway_workers=variant.workers)
            try:
                stack = provider.start()
                spec = spec_for(stack, prompt_tokens=options.prompt_tokens, output_tokens=options.output_tokens)
                mock = stack.mock() if spec.output_tokens else None
                with mock.behaving("*", fill_max_tokens=True) if mock else contextlib.nullcontext():
                    run = run_load(spec, profile, folder / "load", watch_pid=stack.pids.get("litellm"),
                                   on_progress=progress_printer(profile), sample_every_s=0.2)
            except LoadRefused as exc:
                pytest.exit(f"load: {exc}", returncode=2)
            finally:
                provider.stop()
            rows.append(row_for(variant, run, knee, rows[0].cpu_ms_per_request if rows else None))
            # written after every variant: an interrupted attribution keeps the rows it finished
            out.write_text(json.dumps({"profile": profile.summary, "rows": [r.as_dict() for r in rows],
                                       "noise": noise(rows)}, indent=1))
            if run.interrupted:
                break
    assert rows and rows[0].requests, "the reference variant answered nothing"
