"""Observability checks OBS-1..OBS-3 (VPS plan slice 2): traces arrive, carry the truth, keep sessions.

Traces are read back through the Langfuse public API, so the same check runs against a real
Langfuse v3 and the stand-in; time is measured from the call, by polling with a deadline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.checks._calls import chat
from harness.gateway import Call, new_trace_id
from harness.registry import check
from harness.results import Outcome
from harness.spend import Estimate, per_chat_model
from harness.stack import Stack

__all__ = ["session_propagated", "trace_appears", "trace_content", "traces_complete"]


def _call(stack: Stack, model: str, metadata: dict[str, Any]) -> Call:
    """One uncached chat call that must succeed: a trace check has nothing to read after an error."""
    call = chat(stack, model, "One sentence on tracing.", metadata=metadata)
    if call.status != 200:
        raise RuntimeError(f"{model} answered HTTP {call.status}: {str(call.body)[:200]}")
    return call


def _no_langfuse(ident: str) -> Outcome:
    return Outcome(id=ident, passed=False, detail="no Langfuse configured for this stack; add langfuse: to the target")


@check("OBS-1", spend=Estimate(1))
def trace_appears(stack: Stack) -> Outcome:
    """OBS-1: a call's trace is readable through the Langfuse API within the threshold."""
    langfuse = stack.langfuse()
    if langfuse is None:
        return _no_langfuse("OBS-1")
    limit = stack.target.threshold("OBS-1")
    trace_id = new_trace_id()
    model = stack.target.chat_models()[0].name
    call = _call(stack, model, {"trace_id": trace_id, "trace_name": "harness-obs1"})
    wait = langfuse.wait_for_trace(trace_id, limit, since=call.started)
    langfuse.close()
    evidence = {"trace_id": trace_id, "polls": wait.polls, "call_id": call.headers.get("x-litellm-call-id")}
    if wait.trace is None:
        return Outcome(id="OBS-1", passed=False, measured=None, threshold=limit, unit="s",
                       detail=f"trace {trace_id} not visible within {limit:g} s", evidence=evidence)
    evidence["htmlPath"] = wait.trace.get("htmlPath")
    return Outcome(id="OBS-1", passed=stack.target.meets("OBS-1", wait.seconds), measured=round(wait.seconds, 3),
                   threshold=limit, unit="s", detail=f"trace visible after {wait.seconds:.2f} s", evidence=evidence)


@contextmanager
def _realistic_latency(stack: Stack, deployment: str | None, latency_ms: float) -> Iterator[None]:
    """Against the mock, give the provider a realistic latency so 10% is not lost in gateway overhead."""
    mock = stack.mock()
    key = (deployment or "").split("/", 1)[-1]
    if mock is None or not key:
        yield
        return
    mock.set(key, latency_ms=latency_ms)
    try:
        yield
    finally:
        mock.reset(key)
        mock.close()


def _prices(stack: Stack) -> dict[str, dict[str, float | None]]:
    with stack.gateway() as client:
        response = client.get("/model/info")
    if response.status_code != 200:
        return {}
    return {item["model_name"]: {"input": item["model_info"].get("input_cost_per_token"),
                                 "output": item["model_info"].get("output_cost_per_token")}
            for item in response.json().get("data", [])}


@check("OBS-2", spend=per_chat_model(2))
def trace_content(stack: Stack) -> Outcome:
    """OBS-2: per model, the trace's tokens equal the response usage, its cost is > 0 and equals
    tokens x the gateway's price table, and its latency is within the tolerance of the measured one."""
    langfuse = stack.langfuse()
    if langfuse is None:
        return _no_langfuse("OBS-2")
    tolerance, floor = stack.target.threshold("OBS-2"), stack.target.threshold("OBS-2.floor_s")
    deadline = stack.target.threshold("OBS-1")
    prices = _prices(stack)
    problems: list[str] = []
    evidence: dict[str, Any] = {}
    worst = 0.0
    # a model's first call pays one-off work before the gateway opens its trace (the escalation hook
    # loads a tokenizer: ~0.4 s here), which would read as a latency mismatch; measure warm calls
    for model in stack.target.chat_models():
        chat(stack, model.name, "warm-up")
    for model in stack.target.chat_models():
        trace_id = new_trace_id()
        with _realistic_latency(stack, model.deployment, 2000.0):
            call = _call(stack, model.name, {"trace_id": trace_id, "trace_name": "harness-obs2"})
        body, seconds = call.body, call.seconds
        wait = langfuse.wait_for_trace(trace_id, deadline, since=call.started)
        if wait.trace is None:
            problems.append(f"{model.name}: no trace within {deadline:g} s")
            continue
        generation = next((o for o in wait.trace["observations"] if o.get("type") == "GENERATION"), None)
        if generation is None:
            problems.append(f"{model.name}: trace has no generation")
            continue
        usage = body["usage"]
        traced = generation.get("usage") or {}
        cost = float(wait.trace.get("totalCost") or 0.0)
        price = prices.get(model.name, {})
        expected_cost = None
        if price.get("input") is not None and price.get("output") is not None:
            expected_cost = usage["prompt_tokens"] * price["input"] + usage["completion_tokens"] * price["output"]
        trace_latency = float(wait.trace.get("latency") or 0.0)
        deviation = abs(trace_latency - seconds) / seconds if seconds else 1.0
        worst = max(worst, deviation)
        evidence[model.name] = {"trace_id": trace_id, "usage": [usage["prompt_tokens"], usage["completion_tokens"]],
                                "traced_usage": [traced.get("input"), traced.get("output")], "cost": cost,
                                "expected_cost": expected_cost, "latency_s": round(trace_latency, 3),
                                "measured_s": round(seconds, 3), "model": generation.get("model")}
        if (traced.get("input"), traced.get("output")) != (usage["prompt_tokens"], usage["completion_tokens"]):
            problems.append(f"{model.name}: traced tokens {traced.get('input')}/{traced.get('output')} != usage "
                            f"{usage['prompt_tokens']}/{usage['completion_tokens']}")
        if cost <= 0:
            problems.append(f"{model.name}: cost {cost} USD is not > 0")
        elif expected_cost is None:
            problems.append(f"{model.name}: no price in the gateway's table to check cost {cost} against")
        elif abs(cost - expected_cost) > 1e-9 + 1e-6 * expected_cost:
            problems.append(f"{model.name}: cost {cost:.8f} != price table {expected_cost:.8f}")
        if abs(trace_latency - seconds) > max(tolerance * seconds, floor):
            problems.append(f"{model.name}: trace latency {trace_latency:.3f} s vs measured {seconds:.3f} s "
                            f"({deviation:.0%} off; allowed {tolerance:.0%} or {floor:g} s)")
    langfuse.close()
    return Outcome(id="OBS-2", passed=not problems and bool(evidence), measured=round(worst, 4),
                   threshold=tolerance, unit="latency deviation",
                   detail="; ".join(problems) or "tokens, cost and latency match for every model", evidence=evidence)


@check("OBS-3", spend=Estimate(1))
def session_propagated(stack: Stack) -> Outcome:
    """OBS-3: `metadata.session_id` on a request becomes the sessionId of its trace."""
    langfuse = stack.langfuse()
    if langfuse is None:
        return _no_langfuse("OBS-3")
    deadline = stack.target.threshold("OBS-1")
    session = f"harness-session-{uuid.uuid4().hex[:16]}"
    model = stack.target.chat_models()[0].name
    call = _call(stack, model, {"session_id": session})
    found: list[dict[str, Any]] = []
    while time.monotonic() - call.started < deadline:
        found = langfuse.traces(sessionId=session)
        if found:
            break
        time.sleep(0.25)
    langfuse.close()
    evidence = {"session_id": session, "call_id": call.headers.get("x-litellm-call-id"),
                "trace_ids": [t["id"] for t in found]}
    if not found:
        return Outcome(id="OBS-3", passed=False, measured=None, threshold=session,
                       detail=f"no trace with sessionId {session} within {deadline:g} s", evidence=evidence)
    return Outcome(id="OBS-3", passed=found[0].get("sessionId") == session, measured=found[0].get("sessionId"),
                   threshold=session, detail=f"{len(found)} trace(s) carry the session", evidence=evidence)


@check("OBS-4", spend=Estimate(8, 20))
def traces_complete(stack: Stack, calls: int = 8, failures: int = 3) -> Outcome:
    """OBS-4: N calls of mixed outcome (some refused by the provider) make exactly N traces."""
    langfuse = stack.langfuse()
    if langfuse is None:
        return _no_langfuse("OBS-4")
    mock = stack.mock()
    model = stack.target.plan.default_model
    upstream = stack.target.upstream_model(model)
    name = f"harness-obs4-{uuid.uuid4().hex[:12]}"
    statuses = []
    for index in range(calls):
        failing = mock is not None and index < failures
        if failing:
            # a provider-side 400: not retried, no fallback, so the failure reaches the client and the trace
            mock.set(upstream, status=400)
        statuses.append(chat(stack, model, metadata={"trace_name": name}).status)
        if failing:
            mock.reset(upstream)
    if mock is not None:
        mock.close()
    deadline = stack.target.threshold("OBS-1")
    started = time.monotonic()
    found: list[dict[str, Any]] = []
    while time.monotonic() - started < deadline:
        found = langfuse.traces(name=name)
        if len(found) >= calls:
            break
        time.sleep(0.25)
    time.sleep(0.5)  # a duplicate would arrive right behind the originals
    found = langfuse.traces(name=name)
    langfuse.close()
    ids = [t["id"] for t in found]
    ok = len(found) == calls and len(set(ids)) == calls
    return Outcome(id="OBS-4", passed=ok, measured=len(found), threshold=calls, unit="traces",
                   detail=f"{len(found)} traces for {calls} calls ({statuses.count(200)} answered, "
                          f"{calls - statuses.count(200)} failed)",
                   evidence={"statuses": statuses, "trace_name": name})
