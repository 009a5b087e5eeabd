"""RTY-1..RTY-4: the gateway graded as a client of paid, rate-limited providers.

Each case (scenarios/retries/) makes the chain's primary, or the whole chain, answer one status on
the mock; client requests go through the gateway as an agent sends them; the verdict is read from
what the providers saw (harness.chaos.attempts): when each attempt came, to which deployment, after
which Retry-After. The retry budget is the config's own `num_retries` (the user's setting is what is
graded); the bounds are the criteria's.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from harness.chaos.attempts import Attempt, RetryCase, timeline, waits
from harness.gateway import Call, new_nonce
from harness.gateway_config import read_retries
from harness.registry import require
from harness.results import NotApplicable, Outcome
from harness.stack import Stack
from harness.standins.mockllm.client import MockControl

__all__ = ["EARLY_TOLERANCE_S", "Exchange", "run_case"]

# the mock stamps arrival and the Retry-After counts from its answer a moment later: 50 ms of slack
EARLY_TOLERANCE_S = 0.05


@dataclass
class Exchange:
    """One client request and every attempt it caused."""

    call: Call
    attempts: list[Attempt] = field(default_factory=list)

    def on(self, model: str) -> list[Attempt]:
        return [a for a in self.attempts if a.model == model]

    def answered_by(self) -> str | None:
        return next((a.model for a in self.attempts if a.status == 200), None)

    def row(self) -> dict[str, Any]:
        return {"client_status": self.call.status, "retry_after": self.call.headers.get("retry-after"),
                "seconds": round(self.call.seconds, 3), "attempts": [a.row() for a in self.attempts]}


def _send(stack: Stack, mock: MockControl, alias: str) -> Exchange:
    since, nonce, sent_at = mock.last_seq(), new_nonce(), time.time()
    with stack.gateway(timeout=120) as client:
        call = client.chat(alias, "Say something short.", nonce=nonce, max_tokens=16)
    time.sleep(0.2)  # an attempt still in flight when the client gave up is logged a moment later
    return Exchange(call, timeline(mock, since, nonce, sent_at))


def _recovered(stack: Stack, mock: MockControl, alias: str, model: str, timeout_s: float = 45.0) -> None:
    """Until the primary serves again: a deployment the case put in cooldown would skew the next case."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _send(stack, mock, alias).answered_by() == model:
            return
        time.sleep(1.0)


def run_case(stack: Stack, case: RetryCase, chain: tuple[str, ...]) -> list[Outcome]:
    """Sets the fault, sends the case's requests, lifts the fault; one outcome per criterion of the case."""
    for ident in case.criteria:
        require(ident, stack)
    if stack.target.litellm_config is None:
        raise NotApplicable("RTY needs the gateway's config (litellm_config): its num_retries is what is graded")
    mock = stack.mock()
    assert mock is not None
    models = [stack.target.upstream_model(alias) for alias in chain]
    faulted = models[:1] if case.target == "primary" else models
    retries, source = read_retries(stack.target.litellm_config)
    with ExitStack() as faults:
        for model in faulted:
            faults.enter_context(mock.behaving(model, status=case.status, retry_after_s=case.retry_after_s,
                                               retry_after_growth=case.retry_after_growth))
        exchanges = [_send(stack, mock, chain[0]) for _ in range(case.requests)]
    try:
        judges = {"RTY-1": _retry_after, "RTY-2": _not_retried, "RTY-3": _bounded, "RTY-4": _own_answer}
        context = _Context(stack, case, chain, models, faulted, retries, source, exchanges)
        return [judges[ident](context) for ident in case.criteria]
    finally:
        _recovered(stack, mock, chain[0], models[0])
        mock.close()


@dataclass(frozen=True)
class _Context:
    stack: Stack
    case: RetryCase
    chain: tuple[str, ...]
    models: list[str]
    faulted: list[str]
    retries: int
    source: str
    exchanges: list[Exchange]

    def outcome(self, ident: str, passed: bool, measured: Any, threshold: Any, detail: str, **more: Any) -> Outcome:
        evidence = {"num_retries": self.retries, "num_retries_from": self.source, "chain": list(self.chain),
                    "requests": [e.row() for e in self.exchanges], **more}
        return Outcome(id=ident, case=f"{self.chain[0]} / {self.case.name}", passed=passed, measured=measured,
                       threshold=threshold, detail=detail, evidence=evidence)


def _retry_after(c: _Context) -> Outcome:
    """RTY-1: every retry on the deployment came no earlier than the Retry-After its refusal asked for."""
    model = c.faulted[0]
    pairs = [pair for e in c.exchanges for pair in waits(e.attempts, model)]
    asked = [(round(w, 3), r) for w, r in pairs if r is not None]
    early = [(w, r) for w, r in asked if w < r - EARLY_TOLERANCE_S]
    if not any(e.on(model) for e in c.exchanges):
        raise NotApplicable(f"no attempt reached {model}: nothing to time (was it in cooldown before the case?)")
    waited = ", ".join(f"{w:.2f} s after {r:g} s asked" for w, r in asked) or "no retry sent"
    detail = (f"{len(asked)} retries on {model} ({c.source} = {c.retries}): {waited}" if not early else
              f"{len(early)} of {len(asked)} retries on {model} came early: " +
              ", ".join(f"{w:.2f} s after {r:g} s asked" for w, r in early))
    return c.outcome("RTY-1", not early, {"retries": len(asked), "early": len(early),
                                          "waits_s": [w for w, _ in asked], "asked_s": [r for _, r in asked]},
                     {"early": 0, "tolerance_s": EARLY_TOLERANCE_S}, detail)


def _not_retried(c: _Context) -> Outcome:
    """RTY-2: one attempt on the refusing deployment; the client gets that 4xx or a fallback's answer (a bad
    provider key must move down the plan's chain)."""
    model = c.faulted[0]
    exchange = c.exchanges[0]
    tries = len(exchange.on(model))
    answered = exchange.answered_by()
    status = exchange.call.status
    problems = []
    if tries > 1:
        problems.append(f"{tries} attempts on {model} for one {c.case.status}")
    if status >= 500:
        problems.append(f"the client got {status}, not the provider's {c.case.status}")
    elif status == 200 and not (answered and answered != model):
        # a success no provider gave: the agent takes an empty answer for a real one
        problems.append(f"the client got 200 ({str(exchange.call.body)[:60]}) though no provider answered")
    elif status != 200 and status != c.case.status:
        problems.append(f"the client got {status} for the provider's {c.case.status}")
    if c.case.expect_fallback and len(c.chain) > 1 and not (status == 200 and answered and answered != model):
        problems.append(f"a bad provider key on {model} did not move down the chain ({' > '.join(c.chain)})")
    served = f"answered by {answered}" if status == 200 and answered else f"client got {status}"
    return c.outcome("RTY-2", not problems, {"attempts_on_deployment": tries, "client_status": status,
                                             "answered_by": answered},
                     {"attempts_on_deployment": 1, "client_status": f"{c.case.status} or a fallback's 200"},
                     "; ".join(problems) if problems else f"1 attempt on {model} for its {c.case.status}; {served}")


def _bounded(c: _Context) -> Outcome:
    """RTY-3: the first request of a total outage: attempts within (num_retries + 1) x chain length, none on one
    deployment sooner than min_gap_s after the last; the amplification factor and billed tokens for the report."""
    exchange = c.exchanges[0]
    bound = (c.retries + 1) * len(c.chain)
    gaps = [w for model in c.models for w, _ in waits(exchange.attempts, model)]
    min_gap = round(min(gaps), 3) if gaps else None
    floor = c.stack.target.threshold("RTY-3.min_gap_s")
    attempts = len(exchange.attempts)
    instant = [g for g in gaps if g < floor]
    ok = attempts <= bound and not instant
    billed = sum(a.tokens for a in exchange.attempts)
    detail = (f"{attempts} provider attempts for 1 client request (bound {bound} = ({c.retries} + 1) x "
              f"{len(c.chain)}); closest retries on one deployment {min_gap} s apart" if ok else
              "; ".join(filter(None, [f"{attempts} attempts > bound {bound}" if attempts > bound else "",
                                      f"{len(instant)} retries within {floor} s of the last" if instant else ""])))
    return c.outcome("RTY-3", ok, {"attempts": attempts, "bound": bound, "amplification": attempts,
                                   "min_gap_s": min_gap, "billed_tokens": billed},
                     {"attempts": f"<= {bound}", "min_gap_s": floor}, detail,
                     amplification={"fault": f"{c.case.status} on {', '.join(c.models)}", "client_requests": 1,
                                    "provider_attempts": attempts, "factor": attempts, "billed_tokens": billed})


def _own_answer(c: _Context) -> Outcome:
    """RTY-4: once the gateway answers without asking any provider (every deployment cooling down), that answer
    is a 429 or 503 with Retry-After, never a bare 500."""
    own = [e for e in c.exchanges[1:] if not e.attempts]
    if not own:
        raise NotApplicable(f"all {len(c.exchanges)} requests of the outage reached a provider: the gateway put no "
                            "deployment in cooldown, so its own 'no deployment available' answer was not seen "
                            "(cooldown_time / allowed_fails in the config)")
    first = own[0].call
    retry_after = first.headers.get("retry-after")
    ok = first.status in (429, 503) and bool(retry_after)
    detail = f"{first.status} with Retry-After: {retry_after}" if ok else \
        f"{first.status} {'with' if retry_after else 'without'} Retry-After (a client cannot know when to come back)"
    return c.outcome("RTY-4", ok, {"status": first.status, "retry_after": retry_after},
                     {"status": "429 or 503", "retry_after": "present"}, detail)
