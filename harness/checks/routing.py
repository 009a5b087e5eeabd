"""RT-1..RT-3 and E2E-1: the routing webhook (VPS plan slice 4) and the chat bot round trip (slice 6).

The route is read twice: from the webhook's answer and from the Langfuse trace of the call it made
(the generation's deployment, mapped back to the alias), so a router that claims one model and
calls another fails. The bot is driven through the Bot API stand-in as a Telegram user would.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.registry import check
from harness.results import NotApplicable, Outcome
from harness.spend import OUTPUT_BOUND, Estimate
from harness.stack import Stack

__all__ = ["MATRIX", "Traced", "WebhookCall", "booked_message", "bot_round_trip", "call_webhook", "error_lines",
           "log_sizes", "routing_matrix", "trace_model"]

# the plan's test matrix: task -> expected model (a 60K-character text without any routing keyword)
MATRIX: list[tuple[str, str, str]] = [
    ("keyword", "Explain AI", "gpt-4"),
    ("simple", "2+2=?", "gemini-2"),
    ("long", "lorem ipsum dolor sit amet " * 2223, "claude-3"),  # 60,021 characters
]
_ERROR_MARKS = (" ERROR ", "Traceback (most recent call last)", " CRITICAL ", "ERROR:")


@dataclass
class WebhookCall:
    status: int
    seconds: float
    body: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def call_webhook(stack: Stack, task: str, timeout_s: float = 120.0) -> WebhookCall:
    """One task to the stack's routing webhook (booked with the spend guard: the router calls a model)."""
    started = time.monotonic()
    try:
        with stack.http(timeout=timeout_s) as client:
            response = client.post(str(stack.target.router_url), json={"task": task})
    except httpx.HTTPError as exc:
        return WebhookCall(0, time.monotonic() - started, error=f"{type(exc).__name__}: {exc}")
    seconds = time.monotonic() - started
    try:
        body = response.json()
    except ValueError:
        return WebhookCall(response.status_code, seconds, error=f"not JSON: {response.text[:200]}")
    return WebhookCall(response.status_code, seconds, body if isinstance(body, dict) else {},
                       str(body.get("error", "")) if isinstance(body, dict) else "")


@dataclass(frozen=True)
class Traced:
    """The successful generation of a call's trace: its model (as an alias), the trace id, its output text."""

    model: str
    trace_id: str
    output: str


def _text(output: Any) -> str:
    if isinstance(output, dict):
        return str(output.get("content") or "")
    if isinstance(output, list):
        return "".join(_text(o) for o in output)
    return "" if output is None else str(output)


def trace_model(stack: Stack, nonce: str, call_id: str | None, since: float, timeout_s: float = 10.0
                ) -> Traced | None:
    """The traced generation of the call carrying `nonce`, or None. Found by the call id where the router
    returns it (LiteLLM's trace id), else by the nonce in the trace's input."""
    langfuse = stack.langfuse()
    if langfuse is None:
        return None
    aliases = stack.target.aliases()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            trace = langfuse.trace(call_id) if call_id else None
            if trace is None:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since - 5))
                trace = next((t for t in langfuse.traces(fromTimestamp=stamp) if nonce in str(t.get("input"))), None)
                if trace is not None:
                    trace = langfuse.trace(trace["id"])
            generations = [o for o in (trace or {}).get("observations", []) if o.get("type") == "GENERATION"
                           and o.get("level") != "ERROR"]
            if trace is not None and generations:
                model = str(generations[-1].get("model") or "")
                return Traced(aliases.get(model, model), str(trace["id"]), _text(generations[-1].get("output")))
            time.sleep(0.25)
    finally:
        langfuse.close()
    return None


@check("RT-1", "RT-2", "RT-3", spend=Estimate(len(MATRIX), 5_100))
def routing_matrix(stack: Stack) -> list[Outcome]:
    """RT-1 (each answer within the limit), RT-2 (route from the answer and from the trace), RT-3 (a reason)."""
    url = stack.target.router_url
    if not url:
        raise NotApplicable("the target has no router_url (the routing webhook, reference or n8n)")
    limit = stack.target.threshold("RT-1")
    outcomes: list[Outcome] = []
    for case, text, expected in MATRIX:
        nonce = uuid.uuid4().hex[:12]
        task = f"{text} [ref {nonce}]"
        since = time.time()
        call = call_webhook(stack, task)
        routed = call.body.get("route")
        reason = str(call.body.get("reason") or "")
        found = trace_model(stack, nonce, call.body.get("call_id"), since) if call.status == 200 else None
        traced, trace_id = (found.model, found.trace_id) if found else (None, None)
        ok_status = call.status == 200 and bool(call.body.get("result"))
        label = f"{case} ({len(task):,} chars)"
        outcomes.append(Outcome(id="RT-1", case=label, passed=ok_status and stack.target.meets("RT-1", call.seconds),
                                measured=round(call.seconds, 3), threshold=limit, unit="s",
                                detail=f"HTTP {call.status} in {call.seconds:.2f} s" + (f": {call.error[:160]}"
                                                                                       if call.error else "")))
        outcomes.append(Outcome(id="RT-2", case=label, passed=ok_status and routed == expected == traced,
                                measured={"response": routed, "trace": traced}, threshold=expected,
                                detail=f"routed to {routed}, traced as {traced}" + ("" if traced else
                                                                                   " (no trace found)"),
                                evidence={"trace_id": trace_id, "model": call.body.get("model")}))
        outcomes.append(Outcome(id="RT-3", case=label, passed=ok_status and bool(reason.strip()), measured=reason,
                                threshold="a non-empty reason", detail=f"reason: {reason!r}"))
    return outcomes


@contextmanager
def booked_message(stack: Stack, text: str) -> Iterator[None]:
    """A message to the bot is an LLM call the harness causes: its worst case is booked before it is sent
    and kept (the bot's reply shows no usage)."""
    assert stack.spend is not None
    reservation = stack.spend.reserve(None, len(text.encode()) + 64, OUTPUT_BOUND)
    try:
        yield
    finally:
        stack.spend.settle(reservation, None)


def log_sizes(stack: Stack) -> dict[str, int]:
    return {name: len(text) for name, text in stack.service_logs().items()}


def error_lines(stack: Stack, sizes: dict[str, int]) -> list[str]:
    """Lines with an error mark that any service logged since `sizes` was taken."""
    found = []
    for name, text in stack.service_logs().items():
        for line in text[sizes.get(name, 0):].splitlines():
            if any(mark in line for mark in _ERROR_MARKS):
                found.append(f"{name}: {line.strip()[:200]}")
    return found


@check("E2E-1", spend=Estimate(1, 20))
def bot_round_trip(stack: Stack, text: str = "/test Hello from Telegram") -> Outcome:
    """E2E-1: a message into the bot -> its reply within the limit; the call traced; no error line in any log."""
    telegram = stack.telegram()
    if telegram is None:
        raise NotApplicable("the target has no telegram_url (the Bot API stand-in the bot polls)")
    limit = stack.target.threshold("E2E-1")
    nonce = uuid.uuid4().hex[:12]
    sizes = log_sizes(stack)
    since = time.time()
    with telegram, booked_message(stack, text):
        sent = telegram.send(f"{text} [ref {nonce}]")
        replies = telegram.wait_reply(sent["message_id"], timeout_s=limit * 3)
    seconds = round(replies[0].received_at - sent["sent_at"], 3) if replies else None
    reply = "".join(m.text for m in replies)
    found = trace_model(stack, nonce, None, since) if replies else None
    traced, trace_id = (found.model, found.trace_id) if found else (None, None)
    time.sleep(0.5)  # the gateway's callbacks log after the answer; give them their moment
    errors = error_lines(stack, sizes)
    # the user must get the model's answer: the reply is the traced generation's output, not an apology
    answered = found is not None and " ".join(found.output.split()) == " ".join(reply.split()) != ""
    ok = seconds is not None and stack.target.meets("E2E-1", seconds) and answered and not errors
    logs = f"{len(errors)} error lines in {len(sizes)} service logs" if sizes else \
        "no service logs to scan (external target)"
    return Outcome(id="E2E-1", passed=ok, unit="s",
                   measured={"reply_after_s": seconds, "traced_model": traced, "error_lines": len(errors)},
                   threshold={"reply_after_s": limit, "trace": "present", "error_lines": 0},
                   detail=(f"reply in {seconds} s from {traced}, trace {trace_id}; {logs}" if ok else
                           "; ".join(filter(None, [
                               "no reply" if seconds is None else f"reply in {seconds} s" if seconds > limit else "",
                               "no trace of the call" if found is None and replies else "",
                               f"the reply is not the model's answer: {reply[:120]!r}"
                               if found is not None and not answered else "",
                               f"errors in logs: {errors[:2]}" if errors else ""]))),
                   evidence={"reply": reply[:300], "error_lines": errors[:10]})
