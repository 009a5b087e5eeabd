"""Runs a profile: starts the Locust runner (and its workers) as child processes, shows progress,
samples the gateway's resources, and reads back every sample, also after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import httpx

from harness._proc import Supervisor, free_port
from harness.load.hosts import LoadRefused, check_host, parse_address
from harness.load.payloads import TokenCount
from harness.load.profiles import Profile
from harness.load.resources import ResourceMonitor, ResourceSamples
from harness.load.samples import Sample, Summary, read_samples, summarize

__all__ = ["LoadRefused", "LoadRun", "LoadSpec", "check_host", "run_load"]

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_PROMPTS = ("Summarise the plot of Hamlet in two sentences.", "What is 2+2?",
                   "Write a haiku about load balancers.", "Explain TCP slow start to a new engineer.",
                   "List three ways to cut cloud costs.")


@dataclass
class LoadSpec:
    """What each simulated user sends. `key` is secret: it reaches the runner by environment only."""

    url: str
    key: str = field(repr=False)
    models: Sequence[str]
    prompts: Sequence[str] = DEFAULT_PROMPTS
    path: str = "/v1/chat/completions"
    stream_ratio: float = 0.5
    max_tokens: int = 64
    think_time_s: tuple[float, float] = (0.5, 1.5)
    timeout_s: float = 60.0
    max_requests: int = 200_000
    max_concurrency: int = 256
    warmup: bool = True  # one unmeasured call per model and mode first: cold paths are not the load's story
    shapes: Sequence[dict[str, Any]] = ()  # agents' request shapes ({agent, weight, body}): sent instead of prompts
    prompt_tokens: TokenCount | None = None  # synthetic prompts of drawn lengths instead of `prompts`
    output_tokens: TokenCount | None = None  # max_tokens drawn per request instead of `max_tokens`
    dataset: Sequence[dict[str, Any]] = ()  # recorded requests ({messages, output_tokens?}) replayed in turn
    model_weights: Sequence[float] = ()


@dataclass
class LoadRun:
    profile: Profile
    summary: Summary
    resources: ResourceSamples
    out_dir: Path
    workers: int
    interrupted: bool
    samples: list[Sample]
    stages: list[Summary] = field(default_factory=list)  # open loop: one summary per rate step

    def as_dict(self) -> dict[str, Any]:
        return {"profile": asdict(self.profile), "workers": self.workers, "interrupted": self.interrupted,
                "summary": self.summary.as_dict(), "stages": [s.as_dict() for s in self.stages],
                "resources": {"pid": self.resources.pid, "restarts": self.resources.restarts,
                              "peak_rss_mb": self.resources.peak_rss_mb,
                              "peak_mem_percent": self.resources.peak_mem_percent,
                              "mean_cpu_percent": self.resources.mean_cpu_percent,
                              "series": self.resources.series}}


def _spec_document(spec: LoadSpec, profile: Profile, lanes: int) -> dict[str, Any]:
    doc = {f.name: getattr(spec, f.name) for f in fields(spec) if f.name != "key"}
    for name in ("prompt_tokens", "output_tokens"):
        doc[name] = doc[name].model_dump() if doc[name] is not None else None
    doc.update(models=list(spec.models), prompts=list(spec.prompts), shapes=list(spec.shapes),
               dataset=list(spec.dataset), model_weights=list(spec.model_weights))
    doc.update(arrival=profile.arrival, lanes=lanes, stages=[asdict(s) for s in profile.stages],
               rates=[(s.until_s, s.rate) for s in profile.stages])
    return doc


def run_load(spec: LoadSpec, profile: Profile, out_dir: Path, *, workers: int = 0, watch_pid: int | None = None,
             allow_hosts: Sequence[str] = (), on_progress: Callable[[dict[str, Any]], None] | None = None,
             master_bind: str | None = None, worker_wait_s: float = 60.0, sample_every_s: float = 1.0,
             worker_provider: Literal["local", "containers"] = "local") -> LoadRun:
    """Runs `profile` against `spec.url`; returns every sample and their summary. Ctrl-C stops it cleanly.

    `workers` Locust workers run as local processes; with `master_bind` ("HOST:PORT") none is started here
    and the master waits up to `worker_wait_s` for `workers` remote ones (`harness load-worker --master`).
    `worker_provider` containers: each local worker is a container of the services image on the host's
    network (the same runner, packaged as a pod would run it). The gateway process `watch_pid` is sampled
    every `sample_every_s` (its CPU, memory, restarts)."""
    check_host(spec.url, allow_hosts)
    out_dir.mkdir(parents=True, exist_ok=True)
    if spec.warmup:
        _warm_up(spec)
    lanes = max(1, workers) if profile.arrival != "closed" else 0
    spec_file = out_dir / "spec.json"
    spec_file.write_text(json.dumps(_spec_document(spec, profile, lanes), indent=2))
    for name in ("samples.jsonl", "progress.jsonl"):
        (out_dir / name).unlink(missing_ok=True)
    env = {"HARNESS_LOAD_KEY": spec.key, "PYTHONPATH": str(REPO)}
    base = [sys.executable, "-m", "harness.load.runner", "--spec", str(spec_file), "--out", str(out_dir)]
    supervisor = Supervisor(out_dir)
    interrupted = False
    restore = _catch_ctrl_c()
    try:
        with ResourceMonitor(watch_pid, sample_every_s) as resources:
            if workers:
                host, port = _bind(master_bind)
                main = supervisor.start("load-master", [*base, "--master", str(workers), "--bind", host, "--port",
                                                        str(port), "--wait-s", str(worker_wait_s)],
                                        env=env, cwd=REPO, stop_signal=signal.SIGINT)
                worker = ["-m", "harness.load.runner", "--worker", "--connect", host, "--port", str(port),
                          *[arg for h in allow_hosts for arg in ("--allow-host", h)]]
                if worker_provider == "containers" and not master_bind:
                    worker = _in_container(supervisor, worker)
                else:
                    worker = [sys.executable, *worker]
                for index in range(0 if master_bind else workers):
                    supervisor.start(f"load-worker-{index}", worker, env=env, cwd=REPO, stop_signal=signal.SIGINT)
            else:
                main = supervisor.start("load-runner", base, env=env, cwd=REPO, stop_signal=signal.SIGINT)
            deadline = time.monotonic() + profile.duration_s + spec.timeout_s + 120 + worker_wait_s
            try:
                _follow(main.process, out_dir / "progress.jsonl", deadline, on_progress)
            except KeyboardInterrupt:
                interrupted = True
                os.killpg(main.pid, signal.SIGINT)  # the runner stops its users and writes what it has
                # past this wait the supervisor kills it; the samples written so far are kept
                with contextlib.suppress(subprocess.TimeoutExpired):
                    main.process.wait(spec.timeout_s + 15)
    finally:
        supervisor.close()
        restore()
    if main.process.returncode == 3 and not interrupted:  # the master's own words: workers missing or refusing
        said = [line for line in main.log.read_text(errors="replace").splitlines() if line.startswith("load runner:")]
        raise LoadRefused(said[-1].removeprefix("load runner: ") if said else main.tail())
    if main.process.returncode not in (0, None) and not interrupted:
        raise RuntimeError(f"the load runner exited with {main.process.returncode}; log {main.log}: {main.tail()}")
    samples = read_samples(out_dir / "samples.jsonl")
    stages = [summarize(s for s in samples if s.stage == i) for i in range(len(profile.stages))] \
        if profile.arrival != "closed" and len(profile.stages) > 1 else []
    return LoadRun(profile, summarize(samples), resources, out_dir, workers, interrupted, samples, stages)


def _in_container(supervisor: Supervisor, worker: list[str]) -> list[str]:
    """`docker run` of the worker in the services image, on the host's network (it reaches the master and a
    loopback gateway as a local process would); the key by environment name only, never on the command line.
    Labelled for the reaper: a killed harness leaves no worker container."""
    from harness.images import IMAGES, RUN_LABEL, MissingImage, present

    image = os.environ.get("HARNESS_LOAD_WORKER_IMAGE") or IMAGES["services"].tag
    if present(image) is None:
        raise MissingImage(f"no worker image {image}: run `harness images build services`")
    label = f"{RUN_LABEL}=load-{uuid.uuid4().hex[:12]}"
    supervisor.guard_docker(label)
    return ["docker", "run", "--rm", "--init", "--network", "host", "--label", label, "--cpus", "1",
            "-e", "HARNESS_LOAD_KEY", image, "python", *worker]


def _bind(master_bind: str | None) -> tuple[str, int]:
    """The master's address: HOST:PORT as given (remote workers), or a free loopback port (local ones)."""
    return ("127.0.0.1", free_port()) if master_bind is None else parse_address(master_bind, "--master-bind")


def _catch_ctrl_c() -> Callable[[], None]:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt here even where it was inherited as ignored: a shell runs a
    background job with SIGINT ignored, and Python then installs no handler of its own. Returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:
        return lambda: None
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return lambda: signal.signal(signal.SIGINT, previous)


def _warm_up(spec: LoadSpec) -> None:
    """The gateway's first call per provider opens connections and imports code (~1 s here); not measured."""
    key = spec.key.split(",")[0]
    with httpx.Client(base_url=spec.url, headers={"Authorization": f"Bearer {key}"}, timeout=spec.timeout_s) as http:
        for model in spec.models:
            for stream in (False, True):
                body = {"model": model, "messages": [{"role": "user", "content": "warm-up"}], "max_tokens": 8,
                        "stream": stream}
                try:
                    http.post(spec.path, json=body).read()
                except httpx.HTTPError as exc:
                    raise LoadRefused(f"the gateway at {spec.url} did not answer the warm-up call "
                                      f"({type(exc).__name__}); is it running?") from None


def _follow(process: Any, progress: Path, deadline: float,
            on_progress: Callable[[dict[str, Any]], None] | None) -> None:
    """Waits for the runner, handing each new progress line to `on_progress`."""
    seen = 0
    while True:
        done = process.poll() is not None
        if progress.exists():
            lines = progress.read_text().splitlines()
            for line in lines[seen:]:
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    break
                seen += 1
                if on_progress:
                    on_progress(item)
        if done:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the load runner overran its deadline")
        time.sleep(0.5)
