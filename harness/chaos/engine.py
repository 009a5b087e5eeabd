"""The generic chaos engine: steady state, faults on, probes judged by criterion, rollback, recovery.

It knows no scenario by name; everything specific is in `scenarios/*.yaml`. Each run keeps a
timeline (fault on, failed attempts, answer, fault off, recovery) for the sign-off report.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.capabilities import Capability
from harness.chaos.aftermath import traces_after_recovery
from harness.chaos.inject import inject
from harness.chaos.probe import ProbeResult, probe, probe_bot, probe_webhook, settle
from harness.chaos.scenario import Case, Probe
from harness.results import NotApplicable, Outcome
from harness.stack import Stack

__all__ = ["CaseRun", "SteadyStateFailed", "available", "run_case"]

_TRACE_WAIT_S = 10.0


class SteadyStateFailed(Exception):
    """The stack was not healthy before the fault, so the case proves nothing about the fault."""


@dataclass
class CaseRun:
    case: Case
    outcomes: list[Outcome] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def event(self, what: str, at: float | None = None, **data: Any) -> None:
        self.timeline.append({"t": round((at or time.time()) - self.started, 3), "event": what, **data})


def _expected(case: Case, expect: str) -> str | None:
    return case.role(expect)[0] if expect in ("primary", "next", "last") else None


def _served_check(ident: str, case: Case, result: ProbeResult, expected: str | None) -> Outcome:
    served = result.served()
    problems = []
    if result.status != 200:
        problems.append(f"HTTP {result.status} {result.error[:160]}".strip())
    elif served != expected:
        problems.append(result.disagreement() or f"served by {served}, expected {expected}")
    return Outcome(id=ident, case=case.label, passed=not problems, measured=served, threshold=expected,
                   detail="; ".join(problems) or f"answered by {served} (headers, provider log, trace agree)",
                   evidence={"served_by": result.served_by, "seconds": round(result.seconds, 3)})


def _serving(ident: str, label: str, burst: list[ProbeResult], steady_s: float | None, stack: Stack) -> Outcome:
    """"Keeps serving" under a fault: every request of the burst answered 200 within the plan's per-request
    budget, and the burst's P95 within its P95 budget; steady-state latency beside it for comparison."""
    budget = stack.target.plan.serving
    seconds = sorted(r.seconds for r in burst)
    p50, p95 = _rank(seconds, 0.50), _rank(seconds, 0.95)
    failed = [r for r in burst if r.status != 200]
    slow = [s for s in seconds if s > budget.per_request_s]
    problems = [f"{len(failed)} of {len(burst)} requests failed (HTTP {sorted({r.status for r in failed})}: "
                f"{failed[0].error[:120]})"] if failed else []
    if slow:
        problems.append(f"{len(slow)} of {len(burst)} requests over the {budget.per_request_s:g} s budget (worst "
                        f"{seconds[-1]:.2f} s)")
    if p95 > budget.p95_s:
        problems.append(f"P95 {p95:.2f} s over the plan's {budget.p95_s:g} s")
    steady = f"; steady state {steady_s:.3f} s" if steady_s is not None else ""
    if len(burst) < budget.burst:
        steady += f"; burst stopped after {len(burst)} of {budget.burst} requests"
    return Outcome(id=ident, case=label, passed=not problems, unit="s",
                   measured={"p50_s": round(p50, 3), "p95_s": round(p95, 3), "worst_s": round(seconds[-1], 3),
                             "steady_s": round(steady_s, 3) if steady_s is not None else None,
                             "ok": len(burst) - len(failed), "requests": len(burst)},
                   threshold={"per_request_s": budget.per_request_s, "p95_s": budget.p95_s},
                   detail="; ".join(problems) + steady if problems else
                   f"{len(burst)} requests served with the fault on: P50 {p50:.3f} s, P95 {p95:.3f} s, worst "
                   f"{seconds[-1]:.3f} s{steady}",
                   evidence={"seconds": [round(s, 3) for s in seconds], "steady_s": steady_s,
                             **({"note": "the alert half of CA-5 is checked by the alerting suite (AL-*)"}
                                if ident == "CA-5" else {})})


def _context_overflow(case: Case, result: ProbeResult, stack: Stack) -> Outcome:
    """FB-9: the primary refused the prompt as too long; the plan's long-context model answers it, or, where
    no model can take more, the client gets a 400 that says so."""
    long_model, primary = stack.target.plan.long_context_model, case.role("primary")[0]
    served = result.served_by.get("headers") if result.status == 200 else None
    clear = result.status == 400 and any(w in result.error.lower() for w in ("context", "too long", "maximum"))
    ok = served == long_model if primary != long_model else (clear or served not in (None, primary))
    ok = ok or (clear and primary != long_model and long_model not in stack.target.fallbacks.get(primary, [])
                and not _context_fallbacks(stack).get(primary))
    return Outcome(id="FB-9", case=case.label, passed=ok,
                   measured={"status": result.status, "served_by": served},
                   threshold=f"served by {long_model}" if primary != long_model else "a clear 400",
                   detail=(f"answered by {served} after the primary's context-length 400" if served else
                           f"HTTP {result.status}: {result.error[:160]}") +
                   ("" if ok or served is None else f"; the plan's long-context model is {long_model}"),
                   evidence={"served_by": result.served_by})


def _context_fallbacks(stack: Stack) -> dict[str, list[str]]:
    """The config's context_window_fallbacks, read from the LiteLLM config under test."""
    import yaml

    path = stack.target.litellm_config
    if path is None or not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    out: dict[str, list[str]] = {}
    for section in ("router_settings", "litellm_settings"):
        for rule in (data.get(section) or {}).get("context_window_fallbacks") or []:
            if isinstance(rule, dict):
                out.update({str(k): list(v) for k, v in rule.items()})
    return out


def _burst(stack: Stack, case: Case, spec: Probe, run: CaseRun, first: ProbeResult) -> list[ProbeResult]:
    """The plan's serving burst under the fault, stopped at the first request that fails or is over the
    per-request budget: that one already decides, and a hung dependency would otherwise cost the burst
    times its hang."""
    budget = stack.target.plan.serving
    sent = [first]
    while len(sent) < budget.burst and sent[-1].status == 200 and sent[-1].seconds <= budget.per_request_s:
        sent.append(_probe(stack, case, spec, run, f"under fault ({len(sent) + 1})"))
    return sent


def _rank(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (exact: no interpolation between samples)."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def judge(ident: str, case: Case, spec: Probe, result: ProbeResult, stack: Stack,
           burst: list[ProbeResult] | None = None, steady_s: float | None = None) -> Outcome:
    expected = _expected(case, spec.expect)
    label = case.label
    if ident in ("FB-1", "FB-4"):
        return _served_check(ident, case, result, expected)
    if ident in ("FB-2", "FB-7") and spec.expect != "reported":
        limit = stack.target.threshold(ident)
        served_ok = result.status == 200 and result.served() == expected
        return Outcome(id=ident, case=label, passed=served_ok and stack.target.meets(ident, result.seconds),
                       measured=round(result.seconds, 3), threshold=limit, unit="s",
                       detail=f"answered by {result.served()} in {result.seconds:.2f} s" if served_ok
                       else f"no answer from {expected}: HTTP {result.status} {result.error[:120]}",
                       evidence={"served_by": result.served_by})
    if ident in ("FB-7", "FB-8"):
        primary = case.role("primary")[0]
        # the primary was cut (FB-7) or sent an error event (FB-8); an answer that still claims it finished
        # normally from it hides the failure
        what = "cut" if ident == "FB-7" else "provider's in-stream error"
        silent = result.status == 200 and result.stream_error is None and result.finish_reason is not None \
            and result.served_by.get("headers") == primary
        return Outcome(id=ident, case=label, passed=not silent,
                       measured={"finish_reason": result.finish_reason, "stream_error": result.stream_error,
                                 "served_by": result.served(), "chars": len(result.text)},
                       threshold=f"the {what} reported (an error, or no finish) or served whole by a fallback",
                       detail=(f"the {what} stream ended with finish_reason {result.finish_reason!r} and no error: "
                               f"{'silently truncated' if ident == 'FB-7' else 'the failure passed as success'}")
                       if silent else (f"served whole by {result.served_by.get('headers')} after the {what}"
                                       if result.status == 200 and result.stream_error is None
                                       else f"the {what} reached the client as an error"),
                       evidence={"served_by": result.served_by})
    if ident == "FB-9":
        return _context_overflow(case, result, stack)
    if ident == "FB-3":
        primary = case.role("primary")[0]
        ok = result.served_by.get("trace") == expected and primary in result.traced_failures
        return Outcome(id=ident, case=label, passed=ok,
                       measured={"failed": result.traced_failures, "served": result.served_by.get("trace")},
                       threshold={"failed": [primary], "served": expected},
                       detail="trace shows the failed attempt and the fallback" if ok else
                       f"trace shows failures {result.traced_failures} and success "
                       f"{result.served_by.get('trace')}; expected {primary} failed, {expected} served",
                       evidence={"trace_id": result.trace_id})
    if ident == "FB-5":
        limit = stack.target.threshold(ident)
        # a clean error is one the client can act on: a 5xx, or LiteLLM's 408 for an upstream that timed out
        clean = (result.status >= 500 or result.status == 408) and bool(result.error.strip()) and \
            stack.target.meets(ident, result.seconds)
        said = f"HTTP {result.status}" if result.status else "no answer"
        return Outcome(id=ident, case=label, passed=clean, measured=round(result.seconds, 3), threshold=limit,
                       unit="s", detail=f"{said} after {result.seconds:.2f} s: {result.error[:160]}",
                       evidence={"status": result.status, "failed_attempts": result.failed_attempts})
    if ident in ("CA-5", "OBS-6"):
        return _serving(ident, label, burst or [result], steady_s, stack)
    if ident == "RT-4":
        limit = stack.target.router_timeout_s + stack.target.threshold(ident)
        clean = result.status in (502, 503, 504) and bool(result.error.strip()) and \
            stack.target.meets(ident, result.seconds, limit)
        return Outcome(id=ident, case=label, passed=clean, measured=round(result.seconds, 3), threshold=limit,
                       unit="s", detail=f"HTTP {result.status or 'no answer'} after {result.seconds:.2f} s: "
                                        f"{result.error[:160] or result.text[:80]}",
                       evidence={"status": result.status, "router_timeout_s": stack.target.router_timeout_s})
    if ident == "E2E-2":
        limit = stack.target.threshold(ident)
        replied = result.status == 200 and bool(result.text.strip())
        return Outcome(id=ident, case=label, passed=replied and stack.target.meets(ident, result.seconds),
                       measured=round(result.seconds, 3) if replied else None, threshold=limit, unit="s",
                       detail=f"the user got: {result.text[:160]!r} after {result.seconds:.2f} s" if replied
                       else f"silence: {result.error}", evidence={"reply": result.text[:300]})
    raise ValueError(f"the chaos engine cannot judge {ident}")


def _service_probe(stack: Stack, spec: Probe, run: CaseRun, tag: str) -> ProbeResult:
    run.event(f"{tag}: {'task to the routing webhook' if spec.via == 'webhook' else 'message to the bot'}")
    # an answer much later than RT-4's or E2E-2's limit counts as a hang or silence: no reason to wait out
    # the service's own (perhaps missing) timeout
    target = stack.target
    result = probe_webhook(stack, target.router_timeout_s + target.threshold("RT-4") + 5) if spec.via == "webhook" \
        else probe_bot(stack, max(1.5 * target.threshold("E2E-2") + 1, 5.0))
    outcome = f"HTTP {result.status}" if spec.via == "webhook" else ("reply" if result.status == 200 else "no reply")
    run.event(f"{tag}: {outcome} after {result.seconds:.3f} s", at=result.sent_at + result.seconds)
    return result


def _probe_timeout(stack: Stack, spec: Probe) -> float:
    """How long a probe waits: past every time bound its criteria set (plus slack), an answer cannot pass, so
    a gateway still waiting then (a 600 s upstream timeout) is measured as no answer, not waited out."""
    serving = stack.target.plan.serving.per_request_s
    bounds = {"FB-2": lambda: stack.target.threshold("FB-2"), "FB-5": lambda: stack.target.threshold("FB-5"),
              "CA-5": lambda: serving, "OBS-6": lambda: serving}
    if spec.criteria and all(c in bounds for c in spec.criteria):
        return max(bounds[c]() for c in spec.criteria) + 5.0
    return 60.0


def _probe(stack: Stack, case: Case, spec: Probe, run: CaseRun, tag: str) -> ProbeResult:
    if spec.via != "gateway":
        return _service_probe(stack, spec, run, tag)
    model = case.role("primary")[0]
    run.event(f"{tag}: request to {model}{' (stream)' if spec.stream else ''}")
    result = probe(stack, model, stream=spec.stream, cache=spec.cache, timeout=_probe_timeout(stack, spec))
    for attempt in result.failed_attempts:
        run.event(f"{tag}: attempt failed at {attempt['model']} ({attempt['status']})", at=attempt["ts"])
    answer = f"answered by {result.served_by.get('headers')}" if result.status == 200 else \
        f"HTTP {result.status or 'error'}"
    run.event(f"{tag}: {answer} after {result.seconds:.3f} s", at=result.sent_at + result.seconds)
    if any(c in ("FB-1", "FB-3", "FB-4", "FB-6") for c in spec.criteria) or tag == "steady state":
        settle(stack, result, _TRACE_WAIT_S)
    return result


def run_case(stack: Stack, case: Case) -> CaseRun:
    run = CaseRun(case)
    scenario = case.scenario
    _needs(stack, [scenario.steady_state, *scenario.method, scenario.recovery])
    steady_s = None
    if scenario.steady_state is not None:
        steady = _probe(stack, case, scenario.steady_state, run, "steady state")
        steady_s = steady.seconds
        healthy = steady.status == 200 and (scenario.steady_state.via != "gateway" or
                                            steady.served() == _expected(case, scenario.steady_state.expect))
        if not healthy:
            raise SteadyStateFailed(f"{case.label}: before any fault, {steady.served_by} HTTP {steady.status} "
                                    f"{steady.error[:160]}")
    undos: list[Callable[[], None]] = []
    after: list[tuple[Outcome, list[ProbeResult]]] = []  # judged again once the fault is off
    under: list[float] = []  # every request's seconds with the fault on, for the steady vs under-fault table
    try:
        for fault in case.faults():
            for target in case.role(fault.target):
                undos.append(inject(stack, target, fault))
                run.event(f"fault on: {target} {fault.kind} {fault.attributes or ''}".rstrip())
        fault_on = time.monotonic()
        for spec in scenario.method:
            result = _probe(stack, case, spec, run, "under fault")
            burst = _burst(stack, case, spec, run, result) if spec.burst else None
            under += [r.seconds for r in burst or [result]]
            for ident in spec.criteria:
                run.outcomes.append(judge(ident, case, spec, result, stack, burst, steady_s))
                if ident == "OBS-6":
                    after.append((run.outcomes[-1], burst or [result]))
        if undos and (left := scenario.hold_s - (time.monotonic() - fault_on)) > 0:
            run.event(f"fault held {scenario.hold_s:g} s in all")
            time.sleep(left)
    finally:
        for undo in reversed(undos):
            undo()
        if undos:
            run.event("fault off")
    fault_off = time.monotonic()
    for outcome, burst in after:
        traces_after_recovery(stack, burst, outcome, fault_off, outage_s=fault_off - fault_on)
        run.event(f"traces after recovery: {outcome.evidence['traces_lost']} lost",
                  at=time.time())
    if scenario.recovery is not None:
        run.outcomes += _recover(stack, case, scenario.recovery, run)
    latency = _latency(case, steady_s, under)
    for outcome in run.outcomes:
        outcome.evidence["timeline"] = run.timeline
        outcome.evidence["latency"] = latency
    return run


def _latency(case: Case, steady_s: float | None, under: list[float]) -> dict[str, Any]:
    """Steady state beside the requests sent under the fault (P50, P95, worst), for the report's table."""
    ordered = sorted(under)
    return {"scenario": case.scenario.name, "variant": case.variant, "steady_s": _round(steady_s),
            "requests": len(ordered), "p50_s": _round(_rank(ordered, 0.5)) if ordered else None,
            "p95_s": _round(_rank(ordered, 0.95)) if ordered else None,
            "worst_s": _round(ordered[-1]) if ordered else None}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _needs(stack: Stack, probes: list[Probe | None]) -> None:
    """A scenario through the webhook or the bot does not apply to a stack without them."""
    vias = {p.via for p in probes if p is not None}
    if "webhook" in vias and not stack.target.router_url:
        raise NotApplicable("this scenario goes through the routing webhook; the target has no router_url")
    if "bot" in vias and not stack.target.telegram_url:
        raise NotApplicable("this scenario goes through the chat bot; the target has no telegram_url")


def _recover(stack: Stack, case: Case, spec: Probe, run: CaseRun) -> list[Outcome]:
    """Probes until the expected model serves again, up to the FB-6 threshold after the fault is off."""
    limit = stack.target.threshold("FB-6")
    expected = _expected(case, spec.expect)
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        result = probe(stack, case.role("primary")[0], stream=spec.stream)
        elapsed = time.monotonic() - started
        if result.status == 200 and result.served_by.get("headers") == expected:
            run.event(f"recovered: {expected} serves again after {elapsed:.2f} s", at=result.sent_at + result.seconds)
            break
        if elapsed >= limit:
            run.event(f"not recovered after {elapsed:.1f} s")
            break
        time.sleep(0.5)
    ok = result.status == 200 and result.served_by.get("headers") == expected
    return [Outcome(id=ident, case=case.label, passed=ok and elapsed < limit, measured=round(elapsed, 3),
                    threshold=limit, unit="s",
                    detail=f"{expected} served again after {elapsed:.2f} s ({attempts} probes)" if ok
                    else f"still served by {result.served_by.get('headers')} (HTTP {result.status}) after "
                         f"{elapsed:.1f} s", evidence={"probes": attempts})
            for ident in spec.criteria]


def available(stack: Stack) -> str | None:
    """Why chaos cannot run against this stack, or None."""
    if stack.lacks([Capability.FAULT_PROXIES]) and stack.lacks([Capability.PROVIDER_CONTROL]):
        return "the target has neither toxiproxy_url nor mock_url: no way to inject faults"
    return None

