"""COST-1, the cost audit: what the gateway books per call against provider usage x list price.

Usage comes from the provider side (the response's usage); prices are the target's list prices
(USD per million tokens), i.e. what the operator expects to be billed, not the gateway's table.
A single call costs a fraction of a cent, so the tolerance is relative (1 % by default): summed
over a month's traffic that is what "to the cent" means.
"""

from __future__ import annotations

from harness.checks._calls import chat
from harness.registry import check
from harness.results import Outcome
from harness.spend import per_chat_model
from harness.stack import Stack

__all__ = ["cost_audit"]


@check("COST-1", spend=per_chat_model(input_tokens=20))
def cost_audit(stack: Stack) -> Outcome:
    tolerance = stack.target.threshold("COST-1")
    prices = stack.target.plan.list_prices
    rows, wrong = {}, []
    for model in stack.target.chat_models():
        if model.name not in prices:
            continue
        call = chat(stack, model.name, "Audit this call's cost.")
        usage = call.usage
        price_in, price_out = prices[model.name]
        expected = (usage.get("prompt_tokens", 0) * price_in + usage.get("completion_tokens", 0) * price_out) / 1e6
        booked = call.cost
        rows[model.name] = {"booked": booked, "expected": round(expected, 8), "usage": usage.get("total_tokens"),
                            "call_id": call.headers.get("x-litellm-call-id")}
        if call.status != 200 or booked is None or abs(booked - expected) > tolerance * expected + 1e-9:
            wrong.append(f"{model.name} call {call.headers.get('x-litellm-call-id')}: booked {booked} USD, "
                         f"usage x list price = {expected:.6f} USD")
    worst = max((abs((r["booked"] or 0) - r["expected"]) / r["expected"] for r in rows.values() if r["expected"]),
                default=0.0)
    return Outcome(id="COST-1", passed=bool(rows) and not wrong, measured=round(worst, 6), threshold=tolerance,
                   unit="relative error", detail="; ".join(wrong) or f"{len(rows)} calls booked at usage x list price",
                   evidence=rows)
