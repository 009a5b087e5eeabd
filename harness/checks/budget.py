"""BUD-1: the proxy-wide monthly budget (VPS plan: "max_budget $50/month, alert when > $40 spent").

Spend is driven from zero with calls made expensive by the mock's output length; the check
restores the month's counter afterwards, so it runs only where the harness owns the stack.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import redis

from harness.checks._calls import chat
from harness.criteria import criterion
from harness.gateway import Call
from harness.registry import check
from harness.results import Outcome
from harness.spend import OUTPUT_BOUND, Estimate
from harness.stack import Stack

__all__ = ["month_key", "proxy_budget"]

_CALLS_PER_CAP = 8  # resolution: the warning and the cap each fall between two calls
_MAX_CALLS = 2 * _CALLS_PER_CAP
_ALERT_WAIT_S = 10.0  # bounded: a warning slower than this is reported as missing, with this wait named


def month_key() -> str:
    # the reference stack's counter (stack/litellm/budgets.py); its flag suffix is ":warned"
    return f"harness:spend:proxy:{datetime.now(UTC):%Y-%m}"


@check("BUD-1", spend=Estimate(_MAX_CALLS, 10, OUTPUT_BOUND))
def proxy_budget(stack: Stack, model: str = "gpt-4") -> Outcome:
    budget = stack.target.budget
    if budget is None or budget.warning_usd is None:
        return Outcome(id="BUD-1", passed=False, threshold="a monthly cap and a warning level",
                       detail="no proxy budget with a warning level in the target (budget: monthly_usd, warning_usd)")
    # BUD-1 drives the whole proxy to its monthly cap, which refuses every LLM call until the month ends:
    # the catalogue's needs keep it to a stack the harness started, with the mock, the sink and its Redis
    mock, sink = stack.mock(), stack.alerts()
    assert mock is not None and sink is not None and stack.target.redis_url is not None
    limit = stack.target.threshold("BUD-1")
    upstream = stack.target.upstream_model(model)
    tokens = int(budget.monthly_usd / _CALLS_PER_CAP / (stack.target.plan.list_prices[model][1] / 1e6)) + 1
    if tokens > 100_000:
        return Outcome(id="BUD-1", passed=False, detail=f"a ${budget.monthly_usd} cap needs {tokens} output tokens "
                                                        "per call; set quota_scale in the target")
    store = redis.Redis.from_url(stack.target.redis_url.get_secret_value(), socket_timeout=2)
    key = month_key()
    saved = store.get(key), store.get(f"{key}:warned")
    calls: list[tuple[float, Call]] = []  # spend before each call, the call
    try:
        store.delete(key, f"{key}:warned")
        mock.set(upstream, output_tokens=tokens)
        started = time.time()
        spent, counting = 0.0, True
        while len(calls) < _MAX_CALLS:
            call = chat(stack, model, "budget probe")
            calls.append((spent, call))
            if call.status != 200:
                break
            spent += call.cost or 0.0
            # a stack that books no spend at all is judged by its answers, without waiting on each call
            counting = counting and _counted(store, key, spent)
        warning = sink.wait_for("budget", after=started, timeout_s=min(limit, _ALERT_WAIT_S))
    finally:
        mock.reset(upstream)
        mock.close()
        sink.close()
        store.delete(key, f"{key}:warned")
        for name, value in zip((key, f"{key}:warned"), saved, strict=True):
            if value is not None:
                store.set(name, value)
        store.close()
    return _judge(calls, warning.received_at if warning else None, started, budget.monthly_usd,
                  budget.warning_usd, limit)


def _counted(store: redis.Redis, key: str, spent: float) -> bool:
    """Waits (up to 2 s) for the gateway's spend callback, which runs after the response, to book the call."""
    deadline = time.monotonic() + 2.0
    while float(store.get(key) or 0.0) < spent * 0.999:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _judge(calls: list[tuple[float, Call]], warned_at: float | None, started: float, cap: float, warning: float,
           limit: float) -> Outcome:
    wall = started - calls[0][1].started if calls else started  # monotonic -> epoch, for the sink's clock
    refused = calls[-1][1] if calls and calls[-1][1].status != 200 else None
    spent_at_refusal = calls[-1][0] if refused else sum(c.cost or 0.0 for _, c in calls)
    message = str(refused.body.get("error", refused.body))[:300] if refused else ""
    problems = []
    if refused is None:
        problems.append(f"no refusal after ${spent_at_refusal:.4f} of a ${cap} cap in {len(calls)} calls")
    elif "budget" not in message.lower() or refused.status not in (400, 429):
        problems.append(f"call {len(calls)} failed with HTTP {refused.status}, not a budget error: {message[:120]}")
    elif spent_at_refusal < cap:
        problems.append(f"refused at ${spent_at_refusal:.4f}, before the ${cap} cap")
    elif len(calls) >= 2 and calls[-2][0] >= cap:
        problems.append(f"a call was served at ${calls[-2][0]:.4f}, past the ${cap} cap")
    crossing = next(((i, c) for i, (before, c) in enumerate(calls)
                     if c.status == 200 and before < warning <= before + (c.cost or 0.0)), None)
    latency = None
    if warned_at is None:
        problems.append(f"no warning notification within {min(limit, _ALERT_WAIT_S):g} s of the last call "
                        f"(spend crossed ${warning})")
    elif crossing is None:
        problems.append(f"a warning arrived but spend never crossed ${warning}")
    else:
        call = crossing[1]
        if warned_at < call.started + wall:
            problems.append(f"the warning arrived before the call that crossed ${warning}")
        latency = round(max(0.0, warned_at - (call.started + call.seconds + wall)), 3)
        if not criterion("BUD-1").meets(latency, limit):
            problems.append(f"the warning took {latency} s (limit {limit} s)")
    measured = {"refused_at_usd": round(spent_at_refusal, 4) if refused else None,
                "status": refused.status if refused else 200, "alert_latency_s": latency,
                "warning_crossed_on_call": crossing[0] + 1 if crossing else None, "calls": len(calls)}
    detail = "; ".join(problems) or (f"warning {latency} s after spend crossed ${warning}; refused with a budget "
                                     f"error at ${spent_at_refusal:.4f} (cap ${cap})")
    return Outcome(id="BUD-1", passed=not problems, measured=measured, unit="USD / s",
                   threshold={"warning_usd": warning, "monthly_usd": cap, "alert_within_s": limit},
                   detail=detail,
                   evidence={"error": message, "spend_before_each_call": [round(b, 4) for b, _ in calls]})
