"""AL-1..AL-5: each alert condition of the plans is caused for real, and the notification timed.

A case causes its condition (the gateway stopped, Redis unreachable, providers failing twice the
error-rate threshold, slow streams, a team past its rpm), waits for Alertmanager's notification in
the sink, clears the condition, and later looks for the resolved notification (AL-5). Times are the sink's clock.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis

from harness import registry
from harness.alerting import AlertingRig
from harness.alerting.config import daily_spend_usd
from harness.capabilities import Capability
from harness.checks.budget import month_key
from harness.criteria import criterion
from harness.results import NotApplicable, Outcome
from harness.stack import Stack
from harness.standins.alerts import AlertSink, Notification
from harness.standins.mockllm import MockControl

__all__ = ["Case", "Fired", "cache_down", "daily_spend", "error_rate", "gateway_down", "latency", "quota", "resolved"]

CHANNELS = ("email", "telegram")  # the oncall receiver's two channels (the VPS plan: email + Telegram)


@dataclass
class Fired:
    """One caused condition: when it began, when its notification came, when it was cleared."""

    ident: str
    case: str
    alert: str
    began_at: float
    cleared_at: float = 0.0
    notified: dict[str, float] = field(default_factory=dict)  # channel -> received_at
    evidence: dict[str, Any] = field(default_factory=dict)
    channels: tuple[str, ...] = CHANNELS  # where it must arrive, and nowhere else
    resolvable: bool = True  # False: its window outlasts the run (a day's spend), so AL-5 does not apply


Case = Callable[[AlertingRig, AlertSink], tuple[Outcome, Fired]]


def _is(alert: str, status: str) -> Callable[[Notification], bool]:
    def match(note: Notification) -> bool:
        body = note.body if isinstance(note.body, dict) else {}
        return body.get("status") == status and body.get("groupLabels", {}).get("alertname") == alert
    return match


def _wait_notified(sink: AlertSink, fired: Fired, status: str, after: float, timeout_s: float) -> dict[str, float]:
    """Receive time per channel of the first `status` notification for the alert after `after`."""
    got: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    for channel in fired.channels:
        note = sink.wait_for(channel, _is(fired.alert, status), after=after,
                             timeout_s=max(0.0, deadline - time.monotonic()))
        if note is not None:
            got[channel] = note.received_at
    for channel in set(CHANNELS) - set(fired.channels):  # a moment for a notification that should not come
        note = sink.wait_for(channel, _is(fired.alert, status), after=after, timeout_s=1.0)
        if note is not None:
            got[channel] = note.received_at
    return got


def _fire_outcome(rig: AlertingRig, sink: AlertSink, fired: Fired, limit_s: float, detail: str) -> Outcome:
    # past the limit it is a FAIL anyway; half as long again only measures how late it came
    fired.notified = _wait_notified(sink, fired, "firing", fired.began_at, limit_s * 1.5 + 2)
    latency = round(max(fired.notified.values()) - fired.began_at, 3) if fired.notified else None
    # where the time went, relative to the start: Prometheus' activeAt of each series, every notification of
    # the alert on each channel (also any before the start), so a late one shows whether Prometheus or
    # Alertmanager was slow
    fired.evidence["timing_s"] = {
        "active_at": [round(t - fired.began_at, 3) for t in rig.active_since(fired.alert)],
        **{channel: [round(n.received_at - fired.began_at, 3) for n in sink.notifications(channel)
                     if _is(fired.alert, "firing")(n) and n.received_at > fired.began_at - 120]
           for channel in fired.channels}}
    ok = latency is not None and criterion(fired.ident).meets(latency, limit_s) and \
        set(fired.notified) == set(fired.channels)
    return Outcome(id=fired.ident, case=fired.case, passed=ok, unit="s",
                   measured={"notified_after_s": latency, "channels": sorted(fired.notified)},
                   threshold={"notified_after_s": limit_s, "channels": sorted(fired.channels)},
                   detail=f"{fired.alert} on {', '.join(sorted(fired.notified))} {latency} s after {detail}" if ok
                   else f"{fired.alert}: {'no notification' if latency is None else f'{latency} s'} "
                        f"(limit {limit_s:g} s) on {sorted(fired.notified) or 'no channel'}; Prometheus firing: "
                        f"{sorted(rig.firing())}", evidence=fired.evidence)


def _limit(stack: Stack, ident: str) -> float:
    return stack.target.alerting.scaled(stack.target.threshold(ident))


def _not_firing(rig: AlertingRig, alert: str, timeout_s: float) -> None:
    """A case starts from a quiet alert, else its notification could be an old one."""
    deadline = time.monotonic() + timeout_s
    while alert in rig.firing():
        if time.monotonic() > deadline:
            raise AssertionError(f"{alert} is firing before its condition was caused")
        time.sleep(0.2)


# the cases


def gateway_down(stack: Stack) -> Case:
    """AL-1 (gateway): the gateway's processes are stopped (SIGSTOP: they hang, as a wedged worker does),
    then continued. A stopped process fails every health check exactly as a dead one does."""
    registry.require("AL-1", stack, {Capability.PROCESS_CONTROL})
    control = stack.control
    assert control is not None

    def run(rig: AlertingRig, sink: AlertSink) -> tuple[Outcome, Fired]:
        _not_firing(rig, "GatewayDown", 10)
        fired = Fired("AL-1", "gateway", "GatewayDown", time.time())
        control.pause("gateway")
        try:
            outcome = _fire_outcome(rig, sink, fired, _limit(stack, "AL-1"), "the gateway stopped answering")
        finally:
            control.resume("gateway")
            fired.cleared_at = time.time()
        return outcome, fired
    return run


def cache_down(stack: Stack) -> Case:
    """AL-1 (cache): Redis unreachable on the gateway's path (its fault proxy disabled), then back."""
    def run(rig: AlertingRig, sink: AlertSink) -> tuple[Outcome, Fired]:
        _not_firing(rig, "CacheUnavailable", 10)
        fired = Fired("AL-1", "cache", "CacheUnavailable", time.time())
        with stack.faults["redis"].down():
            outcome = _fire_outcome(rig, sink, fired, _limit(stack, "AL-1"), "Redis became unreachable")
        fired.cleared_at = time.time()
        return outcome, fired
    return run


@contextmanager
def _traffic(stack: Stack, *, key: str | None = None, models: list[str], concurrency: int, stream: bool = False,
             max_requests: int = 2_000, max_s: float = 120.0) -> Iterator[list[tuple[float, int]]]:
    """Background calls with unique prompts (no cache hits) until the block ends; bounded in count and time."""
    results: list[tuple[float, int]] = []  # (completed at, status)
    stop = threading.Event()
    started = time.monotonic()

    def worker(index: int) -> None:
        with stack.gateway(key, timeout=60) as client:
            n = index
            while not stop.is_set() and len(results) < max_requests and time.monotonic() - started < max_s:
                body = {"model": models[n % len(models)], "max_tokens": 16, "stream": stream,
                        "messages": [{"role": "user", "content": f"alerting check {uuid.uuid4().hex}"}]}
                n += concurrency
                try:
                    with client.stream("POST", "/chat/completions", json=body) as response:
                        for _ in response.iter_bytes():
                            pass
                    results.append((time.time(), response.status_code))
                except httpx.HTTPError:
                    results.append((time.time(), 0))

    pool = ThreadPoolExecutor(concurrency)
    futures = [pool.submit(worker, i) for i in range(concurrency)]
    try:
        yield results
    finally:
        stop.set()
        for future in futures:
            future.result()
        pool.shutdown()


def _providers(stack: Stack, ident: str) -> tuple[MockControl, list[str]]:
    """The mock's control (the case acts on the providers) and the chat models to send traffic to."""
    registry.require(ident, stack, {Capability.PROVIDER_CONTROL})
    mock = stack.mock()
    assert mock is not None
    return mock, [m.name for m in stack.target.models if m.mode == "chat"][:3]


def error_rate(stack: Stack) -> Case:
    """AL-2: every provider fails twice the alert's error rate (HTTP 500) under steady traffic; the
    fallbacks hide most of it from callers, the alert must not."""
    mock, models = _providers(stack, "AL-2")
    # twice the threshold, so the rate over the window clears it with margin; at most every call
    ratio = min(1.0, 2 * stack.target.threshold("AL-2.rate"))

    def run(rig: AlertingRig, sink: AlertSink) -> tuple[Outcome, Fired]:
        _not_firing(rig, "HighErrorRate", 10)
        fired = Fired("AL-2", "", "HighErrorRate", 0.0)
        limit = _limit(stack, "AL-2")
        mock.set("*", status=500, failure_ratio=ratio)
        try:
            with _traffic(stack, models=models, concurrency=3, max_s=limit * 2 + 20) as calls:
                deadline = time.monotonic() + limit + 10
                while not calls and time.monotonic() < deadline:
                    time.sleep(0.05)
                # timed from the first answer, as AL-3: a cold gateway's first seconds (its first call per
                # provider, ~5 s once in CI) are not the alerting path's delay, and it has no rate before
                fired.began_at = calls[0][0] if calls else time.time()
                outcome = _fire_outcome(rig, sink, fired, limit, f"providers began failing {ratio:.0%} of calls")
        finally:
            mock.reset("*")
            fired.cleared_at = time.time()
        fired.evidence.update(calls=len(calls), caller_errors=sum(1 for _, s in calls if s >= 500 or s == 0))
        outcome.evidence = fired.evidence
        return outcome, fired
    return run


def latency(stack: Stack) -> Case:
    """AL-3: streamed answers slowed to just over the P95 threshold (the first token stays quick, so the
    gateway's stream timeout does not fall back). Timed from the first slow answer's completion."""
    mock, models = _providers(stack, "AL-3")

    def run(rig: AlertingRig, sink: AlertSink) -> tuple[Outcome, Fired]:
        _not_firing(rig, "HighLatencyP95", 10)
        p95 = stack.target.threshold("AL-3.p95")
        tokens = math.ceil(p95) + 2
        mock.set("*", ttft_ms=50, tokens_per_s=tokens / (p95 + 1.5), output_tokens=tokens)
        fired = Fired("AL-3", "", "HighLatencyP95", 0.0)
        try:
            with _traffic(stack, models=models, concurrency=4, stream=True, max_requests=4,
                          max_s=p95 * 3) as calls:
                deadline = time.monotonic() + p95 * 3
                while not calls and time.monotonic() < deadline:
                    time.sleep(0.05)
                fired.began_at = calls[0][0] if calls else time.time()
        finally:
            mock.reset("*")
        fired.cleared_at = time.time()
        outcome = _fire_outcome(rig, sink, fired, _limit(stack, "AL-3"), f"the first answer slower than {p95:g} s")
        outcome.evidence.update(slow_calls=len(calls), statuses=sorted({s for _, s in calls}))
        return outcome, fired
    return run


def quota(stack: Stack) -> Case:
    """AL-4: the team key with the smallest rpm sends past its limit; the 429s must raise the alert."""
    teams = [t for t in stack.target.teams if t.rpm and t.key is not None]
    if not teams:
        raise NotApplicable("AL-4 needs a team key with an rpm limit in the target")
    team = min(teams, key=lambda t: t.rpm or 0)
    models = team.models or [m.name for m in stack.target.models if m.mode == "chat"][:1]

    def run(rig: AlertingRig, sink: AlertSink) -> tuple[Outcome, Fired]:
        _not_firing(rig, "QuotaExceeded", 10)
        fired = Fired("AL-4", "quota", "QuotaExceeded", 0.0)
        statuses = []
        with stack.gateway(team.secret(), timeout=30) as client:
            for _ in range((team.rpm or 0) + 3):
                body = {"model": models[0], "max_tokens": 8,
                        "messages": [{"role": "user", "content": f"quota check {uuid.uuid4().hex}"}]}
                status = client.post("/chat/completions", json=body).status_code
                statuses.append(status)
                if status == 429 and not fired.began_at:
                    fired.began_at = time.time()
        fired.cleared_at = time.time()  # the key is left alone from here on
        if not fired.began_at:
            return Outcome(id="AL-4", case="quota", passed=False,
                           detail=f"team {team.team} never got a 429 in {len(statuses)} calls: no condition to "
                                  f"alert on (QT-1 covers the limit itself)"), fired
        outcome = _fire_outcome(rig, sink, fired, _limit(stack, "AL-4"), f"team {team.team}'s first 429")
        outcome.evidence.update(team=team.team, rpm=team.rpm, statuses=statuses)
        return outcome, fired
    return run


def daily_spend(stack: Stack, model: str = "gpt-4") -> Case:
    """AL-4 (spend): one call made expensive by the mock's output length takes the day's spend past the
    limit; the alert goes to the cost channel (email) only. The proxy's month counter is restored after,
    so the monthly cap (BUD-1) does not refuse the calls of later checks."""
    # calls made expensive through the mock; the stack's spend counter restored in its Redis after
    registry.require("AL-4", stack, {Capability.OWNED, Capability.PROVIDER_CONTROL, Capability.REDIS})
    mock = stack.mock()
    assert mock is not None
    limit_usd = daily_spend_usd(stack.target)
    price = stack.target.plan.list_prices[model][1] / 1e6
    tokens = int(limit_usd * 1.2 / price) + 1
    upstream = stack.target.upstream_model(model)
    if tokens > 100_000:
        raise NotApplicable(f"a ${limit_usd} daily limit needs {tokens} output tokens in one call: set quota_scale")

    def run(rig: AlertingRig, sink: AlertSink) -> tuple[Outcome, Fired]:
        _not_firing(rig, "DailySpendHigh", 10)
        store = redis.Redis.from_url(stack.target.redis_url.get_secret_value(), socket_timeout=2)  # type: ignore[union-attr]
        key = month_key()
        saved = store.get(key)
        fired = Fired("AL-4", "spend", "DailySpendHigh", 0.0, channels=("email",), resolvable=False)
        try:
            mock.set(upstream, output_tokens=tokens)
            with stack.gateway() as client:
                body = {"model": model, "max_tokens": tokens,
                        "messages": [{"role": "user", "content": f"spend check {uuid.uuid4().hex}"}]}
                status = client.post("/chat/completions", json=body).status_code
            fired.began_at = time.time()
        finally:
            mock.reset(upstream)
            if saved is None:
                store.delete(key)
            else:
                store.set(key, saved)
            store.close()
        fired.cleared_at = fired.began_at
        if status != 200:
            return Outcome(id="AL-4", case="spend", passed=False, detail=f"the expensive call failed: HTTP {status}"), \
                fired
        outcome = _fire_outcome(rig, sink, fired, _limit(stack, "AL-4"),
                                f"one call of ~${tokens * price:.2f} (limit ${limit_usd:g} a day)")
        outcome.evidence.update(output_tokens=tokens, limit_usd=limit_usd)
        return outcome, fired
    return run


def resolved(stack: Stack, sink: AlertSink, fired: Fired, timeout_s: float | None = None) -> Outcome:
    """AL-5: after the condition cleared, a resolved notification for the same alert on every channel."""
    limit = _limit(stack, "AL-5")
    if not fired.notified:
        return Outcome(id="AL-5", case=f"{fired.alert}", passed=False,
                       detail=f"{fired.alert} never fired: nothing to resolve")
    got = _wait_notified(sink, fired, "resolved", fired.cleared_at, limit * 1.5 + 2 if timeout_s is None
                         else timeout_s)
    after = round(max(got.values()) - fired.cleared_at, 3) if got else None
    ok = after is not None and stack.target.meets("AL-5", after, limit) and set(got) == set(fired.channels)
    return Outcome(id="AL-5", case=fired.alert, passed=ok, unit="s",
                   measured={"resolved_after_s": after, "channels": sorted(got)},
                   threshold={"resolved_after_s": limit, "channels": sorted(fired.channels)},
                   detail=f"{fired.alert} resolved {after} s after the condition cleared" if ok
                   else f"{fired.alert}: {'no resolved notification' if after is None else f'{after} s'} "
                        f"(limit {limit:g} s) on {sorted(got) or 'no channel'}")
