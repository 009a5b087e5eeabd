"""Load: LD-1..LD-6 (VPS plan slice 12; the Fly.io plan's P95). `harness load --profile spike` runs this.

Each profile asked for (`--profile`, `--duration-scale`, `--workers`) runs once against the stack;
its samples and time series go to the run folder (`load/<profile>/`, `load.json`).
"""

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from harness import registry
from harness.checks import load as checks
from harness.images import MissingImage
from harness.load import LoadRefused, LoadRun, run_load
from harness.load.export import guidellm_summary, write_csv
from harness.load.overhead import measure_overhead
from harness.load.plan import choose_profiles, progress_printer, spec_for
from harness.results import NotApplicable, Outcome
from harness.stack import Stack

Record = Callable[[Outcome], Outcome]


@pytest.fixture(scope="session")
def load_runs(stack: Stack, pytestconfig: pytest.Config, run_dir: Path) -> dict[str, LoadRun]:
    options = pytestconfig.option
    try:
        profiles = choose_profiles(options.profile, options.duration_scale, options.rate, options.arrival,
                                   stack.target.load.sweep_rates)
    except ValueError as exc:
        pytest.exit(f"load: {exc}", returncode=2)
    try:
        spec = spec_for(stack, prompt_tokens=options.prompt_tokens, output_tokens=options.output_tokens)
    except ValueError as exc:
        pytest.exit(f"load: {exc}", returncode=2)
    ledger = stack.spend
    assert ledger is not None
    # real providers: Locust's users send from their own process, so the guard bounds their request count
    # by the cap before they start (--yes / --spend-approved lifts it), and books their samples after
    prompt = int(spec.prompt_tokens.expected() * 2) if spec.prompt_tokens else \
        max(len(p.encode()) for p in spec.prompts) + 16
    output = max(spec.max_tokens, int(spec.output_tokens.expected() * 2) if spec.output_tokens else 0)
    worst = max(ledger.cost(m, prompt, output, worst=True) for m in spec.models)
    allowed = None if options.spend_approved else ledger.calls_within_cap(worst)
    if allowed is not None:
        spec = replace(spec, max_requests=max(1, min(spec.max_requests, allowed // max(1, options.workers or 1))))
    runs: dict[str, LoadRun] = {}
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    mock = stack.mock() if spec.output_tokens else None  # a mock the harness controls answers max_tokens whole
    with capture.global_and_fixture_disabled(), \
            (mock.behaving("*", fill_max_tokens=True) if mock else contextlib.nullcontext()):
        for profile in profiles:
            folder = run_dir / "load" / profile.name
            try:
                runs[profile.name] = run_load(spec, profile, folder, workers=options.workers,
                                              watch_pid=stack.pids.get("litellm"),
                                              allow_hosts=stack.target.load.allow_hosts,
                                              on_progress=progress_printer(profile), master_bind=options.master_bind,
                                              worker_wait_s=300.0 if options.master_bind else 60.0,
                                              worker_provider=options.worker_provider)
            except (LoadRefused, MissingImage) as exc:
                pytest.exit(f"load: {exc}", returncode=2)
            samples = runs[profile.name].samples
            write_csv(samples, folder / "samples.csv")
            (folder / "benchmarks.json").write_text(json.dumps(guidellm_summary(profile.name, samples), indent=1))
            for sample in samples:
                ledger.book(ledger.cost(sample.model or None, sample.prompt_tokens or 30,
                                        sample.output_tokens if sample.status == 200 else 0),
                            profile.criterion or "load")
            if runs[profile.name].interrupted:
                break
    document = {name: run.as_dict() | ({"knee": checks.knee(run)} if run.stages else {})
                for name, run in runs.items()}
    (run_dir / "load.json").write_text(json.dumps(document, indent=1))
    return runs


@pytest.mark.parametrize("ident,profile", [pytest.param(i, p, marks=pytest.mark.criterion(i), id=i)
                                           for i, p in (("LD-1", "steady"), ("LD-2", "spike"),
                                                        ("LD-3", "sustained"))])
def test_success_ratio(ident: str, profile: str, load_runs: dict[str, LoadRun], stack: Stack,
                       record: Record) -> None:
    if profile not in load_runs:
        raise NotApplicable(f"profile {profile} was not part of this run (harness load --profile {profile})")
    outcome = record(checks.success(load_runs[profile], stack.target, ident))
    assert outcome, outcome.summary()


@pytest.mark.criterion("LD-4")
def test_latency(load_runs: dict[str, LoadRun], stack: Stack, record: Record) -> None:
    outcomes = [record(checks.latency(run, stack.target)) for run in load_runs.values()]
    assert all(outcomes), "; ".join(o.summary() for o in outcomes if not o)


@pytest.mark.criterion("LD-5")
def test_health(load_runs: dict[str, LoadRun], stack: Stack, record: Record) -> None:
    outcomes = [record(checks.health(run, stack.target)) for run in load_runs.values()]
    assert all(outcomes), "; ".join(o.summary() for o in outcomes if not o)


@pytest.mark.criterion("LD-6")
@pytest.mark.spend(420, 10, 16)  # 200 pairs and 10 warm-up pairs, each one direct call and one through the gateway
def test_overhead(stack: Stack, record: Record, run_dir: Path) -> None:
    registry.require("LD-6", stack)
    direct = stack.direct_provider
    model = stack.target.load.models[0]
    deployment = stack.target.deployment(model)
    if direct is None or stack.master_key is None or not deployment.startswith("openai/"):
        raise NotApplicable("LD-6 calls the provider directly: it needs an OpenAI-format first load model")
    result = measure_overhead(stack.gateway_url, stack.master_key.get_secret_value(), direct.url,
                              direct.key.get_secret_value(), model, deployment.split("/", 1)[1])
    (run_dir / "overhead.json").write_text(json.dumps(asdict(result), indent=1))
    outcome = record(checks.overhead(result, stack.target))
    assert outcome, outcome.summary()
