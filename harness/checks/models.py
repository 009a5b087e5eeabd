"""Model checks MOD-1..MOD-5 (VPS plan slice 3) and ESC-1 (Fly.io plan escalation).

Which model is cheap, which takes long context and which is escalated to come from the
target's `plan` section; limits come from its thresholds.
"""

from __future__ import annotations

import itertools
from typing import Any

from harness.checks._calls import chat, provider_entries
from harness.gateway import Call, new_trace_id
from harness.registry import check
from harness.results import Outcome
from harness.spend import Estimate, per_chat_model
from harness.stack import Stack

__all__ = ["all_models_valid", "cheap_model_caps", "cost_ordering", "escalation", "long_context_whole",
           "traces_per_model"]


@check("MOD-1", spend=per_chat_model(input_tokens=20))
def all_models_valid(stack: Stack) -> Outcome:
    """MOD-1: one call per model, none answered 401, 429 or 5xx."""
    statuses = {m.name: chat(stack, m.name).status for m in stack.target.chat_models()}
    bad = {model: code for model, code in statuses.items() if code != 200}
    return Outcome(id="MOD-1", passed=bool(statuses) and not bad, measured=statuses, threshold="200 for each",
                   detail=f"errors: {bad}" if bad else "every model answered 200")


@check("MOD-2", spend=per_chat_model(input_tokens=20))
def traces_per_model(stack: Stack) -> Outcome:
    """MOD-2: one call per model gives one trace per model, each with its own deployment's name."""
    langfuse = stack.langfuse()
    if langfuse is None:
        return Outcome(id="MOD-2", passed=False, detail="no Langfuse configured for this stack")
    deadline = stack.target.threshold("OBS-1")
    seen: dict[str, Any] = {}
    for model in stack.target.chat_models():
        trace_id = new_trace_id()
        call = chat(stack, model.name, metadata={"trace_id": trace_id, "trace_name": f"harness-mod2-{model.name}"})
        wait = langfuse.wait_for_trace(trace_id, deadline, since=call.started)
        generations = [o.get("model") for o in (wait.trace or {}).get("observations", [])
                       if o.get("type") == "GENERATION"]
        seen[model.name] = generations[0] if len(generations) == 1 else generations or None
    langfuse.close()
    expected = {m.name: m.deployment for m in stack.target.chat_models()}
    # the classic callback names the deployment (`openai/gpt-4-turbo`), the OTel one the bare model
    wrong = {m: got for m, got in seen.items()
             if not isinstance(got, str) or got.split("/", 1)[-1] != str(expected[m]).split("/", 1)[-1]}
    distinct = len({str(v) for v in seen.values()}) == len(seen)
    return Outcome(id="MOD-2", passed=not wrong and distinct, measured=seen, threshold=expected,
                   detail=f"wrong or missing traces: {wrong}" if wrong else
                   ("one trace per model, names distinct" if distinct else "models share a name in traces"))


# ~1,500 tokens: the price of the prompt decides, not the length of the answer. With a one-line prompt the
# answers' lengths decided: a provider mock replying 10 tokens from gpt-4 and 32 from claude-3 made the
# cheaper model the dearer call (MOD-3 FAILed against a healthy gateway, in about one run of twenty)
_MOD3_PROMPT = "Summarise the value of a gateway in one sentence. " + "The gateway routes each request. " * 250


@check("MOD-3", spend=lambda t: Estimate(len(t.plan.cost_order), 1_600, 64))
def cost_ordering(stack: Stack) -> Outcome:
    """MOD-3: the same prompt costs strictly less down the plan's order (gpt-4 > claude-3 > gemini-2). The
    prompt is long and the answer short, so the comparison is of the models' prices, not of their answers."""
    order = stack.target.plan.cost_order
    calls = {model: chat(stack, model, _MOD3_PROMPT, max_tokens=32) for model in order}
    costs = {model: call.cost for model, call in calls.items()}
    values = [costs[m] for m in order]
    ok = all(v is not None for v in values) and all(a > b for a, b in itertools.pairwise(values))
    usage = {m: f"{c.usage.get('prompt_tokens')} in, {c.usage.get('completion_tokens')} out" for m, c in calls.items()}
    return Outcome(id="MOD-3", passed=ok, measured=costs, threshold=" > ".join(order), unit="USD",
                   detail=("costs fall in the plan's order" if ok else f"costs out of order or missing: {costs}")
                   + f"; tokens {usage}", evidence={"usage": usage})


@check("MOD-4", spend=Estimate(1, 20))
def cheap_model_caps(stack: Stack) -> Outcome:
    """MOD-4: "What's 2+2?" to the cheap model: latency and cost under the plan's caps."""
    model = stack.target.plan.cheap_model
    limit_s, limit_usd = stack.target.threshold("MOD-4"), stack.target.threshold("MOD-4.cost")
    call = chat(stack, model, "What's 2+2?")
    cost = call.cost
    ok = call.status == 200 and stack.target.meets("MOD-4", call.seconds) and cost is not None and \
        stack.target.meets("MOD-4.cost", cost)
    return Outcome(id="MOD-4", passed=ok, measured={"seconds": round(call.seconds, 3), "usd": cost},
                   threshold={"seconds": limit_s, "usd": limit_usd},
                   detail=f"{model}: {call.seconds * 1000:.0f} ms, ${cost}" if call.status == 200
                   else f"{model}: HTTP {call.status}")


@check("MOD-5", spend=Estimate(1, 2_600))
def long_context_whole(stack: Stack) -> Outcome:
    """MOD-5: a 10K-character input reaches the long-context model's provider whole, no truncation error."""
    model = stack.target.plan.long_context_model
    size = int(stack.target.threshold("MOD-5"))
    text = ("The quick brown fox jumps over the lazy dog. " * (size // 44 + 1))[:size]
    mock = stack.mock()
    since = mock.last_seq() if mock else 0
    call = chat(stack, model, text)
    entries = provider_entries(stack, call, since)
    if call.status != 200:
        return Outcome(id="MOD-5", passed=False, measured=f"HTTP {call.status}", threshold=size, unit="chars",
                       detail=str(call.body)[:200])
    if entries is None:
        # no provider log: the gateway's own usage count is the evidence; an input cut short before the
        # provider shows far fewer prompt tokens than this text has (~10 per 44-char sentence; floor 1 per 8)
        tokens = int(call.usage.get("prompt_tokens") or 0)
        floor = size // 8
        return Outcome(id="MOD-5", passed=tokens >= floor, measured=tokens, threshold=floor, unit="prompt tokens",
                       detail=(f"the provider counted {tokens} prompt tokens for {size} chars" if tokens >= floor else
                               f"only {tokens} prompt tokens counted for {size} chars (at least {floor} for the whole "
                               "input): the input was cut before the provider")
                       + "; provider log not available (mock_url)",
                       evidence={"decided_by": ["response usage"]})
    reached = max((len(e["body"]) for e in entries if text in e["body"]), default=0)
    whole = any(text in e["body"] for e in entries)
    return Outcome(id="MOD-5", passed=whole, measured=max((e["prompt_chars"] for e in entries), default=0),
                   threshold=size, unit="chars",
                   detail="the whole input reached the provider" if whole
                   else "the provider received a shortened input",
                   evidence={"request_bytes": reached, "decided_by": ["provider log"]})


def _served(stack: Stack, call: Call) -> str | None:
    entries = provider_entries(stack, call) or []
    aliases = stack.target.aliases()
    ok = [aliases.get(e["model"], e["model"]) for e in entries if e["status"] == 200]
    header = call.served_by
    return header if not ok or ok[-1] == header else f"{header} (provider log: {ok[-1]})"


@check("ESC-1", spend=lambda t: Estimate(2, int(t.threshold("ESC-1") * 0.9)))
def escalation(stack: Stack) -> Outcome:
    """ESC-1: above the token limit the default model's call is served by the escalation model; below, not."""
    plan, limit = stack.target.plan, int(stack.target.threshold("ESC-1"))
    above = chat(stack, plan.default_model, "word " * int(limit * 1.3))
    below = chat(stack, plan.default_model, "word " * int(limit * 0.5))
    measured = {"above": _served(stack, above), "below": _served(stack, below),
                "tokens_above": above.usage.get("prompt_tokens"), "tokens_below": below.usage.get("prompt_tokens")}
    ok = measured["above"] == plan.escalation_model and measured["below"] == plan.default_model
    return Outcome(id="ESC-1", passed=ok, measured=measured, unit="",
                   threshold={"above": plan.escalation_model, "below": plan.default_model, "tokens": limit},
                   detail=f"> {limit} tokens served by {measured['above']}, shorter by {measured['below']}")
