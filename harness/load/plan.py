"""From options and a stack to what runs: the profiles asked for, the spec users send, progress lines."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from harness.load.driver import DEFAULT_PROMPTS, LoadSpec
from harness.load.hosts import parse_address
from harness.load.payloads import TokenCount, read_dataset
from harness.load.profiles import PROFILES, SWEEP_RATES, Profile, open_loop, sweep
from harness.stack import Stack

__all__ = ["choose_profiles", "load_options", "progress_printer", "spec_for"]

PLAN_PROFILES = ("steady", "spike", "sustained")


def choose_profiles(names: str, scale: float = 1.0, rate: float = 10.0, arrival: str = "constant",
                    sweep_rates: Sequence[float] = SWEEP_RATES) -> list[Profile]:
    """`steady`, `spike,steady`, `all` (the plan's three), `ramp`, `sweep` (`sweep_rates`: the target's
    load.sweep_rates), `open` (at `rate`), scaled."""
    chosen = []
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        if name == "all":
            chosen += [PROFILES[n] for n in PLAN_PROFILES]
        elif name in PROFILES:
            chosen.append(PROFILES[name])
        elif name == "open":
            chosen.append(open_loop(rate, 60.0, arrival))  # type: ignore[arg-type]
        elif name == "sweep":
            chosen.append(sweep(tuple(sorted(sweep_rates)), arrival=arrival))  # type: ignore[arg-type]
        else:
            known = ", ".join([*PROFILES, "open", "sweep", "all"])
            raise ValueError(f"unknown load profile {name!r}; known: {known}")
    return [p.scaled(scale) for p in chosen]


def load_options(*, profile: str, duration_scale: float, workers: int, rate: float, arrival: str,
                 master_bind: str | None = None, expect_workers: int = 0, prompt_tokens: str | None = None,
                 output_tokens: str | None = None, worker_provider: str = "local") -> list[str]:
    """`harness load`'s options checked and turned into the load suite's pytest options; ValueError names
    the bad one."""
    tokens = []
    for name, value in (("--prompt-tokens", prompt_tokens), ("--output-tokens", output_tokens)):
        if value is not None:
            TokenCount.parse(value)
            tokens += [name, value]
    if profile == "attribution":
        if workers or master_bind or expect_workers:
            raise ValueError("--profile attribution runs one load process per variant; drop --workers/--master-bind")
        return ["--profile", profile, "--duration-scale", str(duration_scale), *tokens]
    if "attribution" in profile.split(","):
        raise ValueError("--profile attribution runs alone (it starts a stack per variant)")
    if arrival not in ("constant", "poisson"):
        raise ValueError(f"--arrival {arrival}: use constant or poisson")
    if workers < 0 or expect_workers < 0:
        raise ValueError("--workers and --expect-workers must be 0 or more")
    if worker_provider not in ("local", "containers"):
        raise ValueError(f"--worker-provider {worker_provider}: use local or containers")
    if worker_provider == "containers" and (not workers or master_bind):
        raise ValueError("--worker-provider containers starts the --workers N here; remote workers (--master-bind) "
                         "run harness load-worker wherever they are")
    if (master_bind is None) != (expect_workers == 0):
        raise ValueError("--master-bind HOST:PORT and --expect-workers N go together (remote workers: "
                         "harness load-worker --master HOST:PORT on each)")
    if master_bind is not None:
        parse_address(master_bind, "--master-bind")
    choose_profiles(profile, duration_scale, rate, arrival)
    options = ["--profile", profile, "--duration-scale", str(duration_scale), "--workers",
               str(expect_workers or workers), "--rate", str(rate), "--arrival", arrival,
               "--worker-provider", worker_provider]
    if master_bind is not None:
        options += ["--master-bind", master_bind]
    return options + tokens


def spec_for(stack: Stack, *, prompt_tokens: str | None = None, output_tokens: str | None = None) -> LoadSpec:
    """Users send the target's payload mix to its models, with the master key or the team keys; the token
    counts given here (`harness load --prompt-tokens`) override the target's."""
    settings = stack.target.load
    if settings.keys == "teams":
        if not stack.target.teams:
            raise ValueError("load.keys is 'teams' but the target lists no team keys")
        key = ",".join(team.secret() for team in stack.target.teams)
    else:
        if stack.master_key is None:
            raise ValueError("load.keys is 'master' but the target has no gateway.master_key")
        key = stack.master_key.get_secret_value()
    shapes: list[dict[str, Any]] = []
    if settings.payload == "agents":
        from harness.agents import DEFAULT_FLEET, load_fleet

        shapes = load_fleet(stack.target.agents or DEFAULT_FLEET).shapes()
    if settings.model_weights and len(settings.model_weights) != len(settings.models):
        raise ValueError(f"load.model_weights has {len(settings.model_weights)} weights for "
                         f"{len(settings.models)} models; give one per model")
    return LoadSpec(url=stack.gateway_url, key=key, models=sorted({s["body"]["model"] for s in shapes}) if shapes
                    else settings.models, prompts=settings.prompts or DEFAULT_PROMPTS,
                    stream_ratio=settings.stream_ratio, max_tokens=settings.max_tokens,
                    think_time_s=settings.think_time_s, max_requests=settings.max_requests, shapes=shapes,
                    prompt_tokens=TokenCount.parse(prompt_tokens) if prompt_tokens else settings.prompt_tokens,
                    output_tokens=TokenCount.parse(output_tokens) if output_tokens else settings.output_tokens,
                    dataset=read_dataset(settings.dataset) if settings.dataset else (),
                    model_weights=() if shapes else settings.model_weights)


def progress_printer(profile: Profile, every_s: float = 5.0) -> Callable[[dict[str, Any]], None]:
    """On a terminal, a rich progress bar with users, requests/s, errors and P95 so far; elsewhere (CI logs)
    one plain line every `every_s` seconds and the last one."""
    console = Console(stderr=True)
    if console.is_terminal:
        return _LiveProgress(profile, console)
    last = [0.0]

    def show(item: dict[str, Any]) -> None:
        final = item.get("state") in ("finished", "interrupted")
        if not final and time.monotonic() - last[0] < every_s:
            return
        last[0] = time.monotonic()
        console.print(f"load {profile.name}: {_status(item, profile)}{' ' + item['state'] if final else ''}",
                      highlight=False, soft_wrap=True)

    return show


def _status(item: dict[str, Any], profile: Profile) -> str:
    p95 = f"{item['p95_s'] * 1000:.0f} ms" if item.get("p95_s") is not None else "-"
    return (f"t={item['t']:.0f}/{profile.duration_s:.0f} s users={item['users']} requests={item['requests']} "
            f"rps={item['rps']} errors={item['errors']} p95={p95}")


class _LiveProgress:
    """A bar over the profile's duration, its description the live figures; ends itself on the last line."""

    def __init__(self, profile: Profile, console: Console) -> None:
        self.profile = profile
        self.bar = Progress(TextColumn("[bold]load {task.fields[name]}"), BarColumn(), TimeElapsedColumn(),
                            TextColumn("{task.description}"), console=console, transient=False)
        self.task = self.bar.add_task("starting", total=profile.duration_s, name=profile.name)
        self.bar.start()

    def __call__(self, item: dict[str, Any]) -> None:
        self.bar.update(self.task, completed=min(item["t"], self.profile.duration_s),
                        description=_status(item, self.profile))
        if item.get("state") in ("finished", "interrupted"):
            self.bar.update(self.task, description=f"{_status(item, self.profile)} {item['state']}")
            self.bar.stop()
