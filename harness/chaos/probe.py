"""One request through the gateway, and who really served it, from three sources that must agree.

The gateway's headers say which model group answered; the mock's request log says which
deployment returned 200 for this request's nonce; the Langfuse trace lists the generations,
failed attempts included. A disagreement is itself a finding.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.gateway import new_trace_id, trace_headers
from harness.stack import Stack

__all__ = ["ProbeResult", "probe", "probe_bot", "probe_webhook", "settle"]


@dataclass
class ProbeResult:
    status: int
    seconds: float
    sent_at: float
    trace_id: str
    model: str = ""
    text: str = ""
    finish_reason: str | None = None
    stream_error: str | None = None
    error: str = ""
    served_by: dict[str, str | None] = field(default_factory=dict)
    failed_attempts: list[dict[str, Any]] = field(default_factory=list)
    traced_failures: list[str] = field(default_factory=list)

    def served(self) -> str | None:
        """The model all sources agree on; None if nothing served or the sources disagree."""
        values = {v for v in self.served_by.values() if v is not None}
        return values.pop() if len(values) == 1 and self.served_by.get("headers") else None

    def disagreement(self) -> str:
        present = {k: v for k, v in self.served_by.items()}
        return "" if len({v for v in present.values()}) <= 1 else f"sources disagree: {present}"


def probe(stack: Stack, model: str, stream: bool = False, cache: bool = False, timeout: float = 60.0) -> ProbeResult:
    nonce = uuid.uuid4().hex
    trace_id = new_trace_id()
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": f"chaos probe {nonce}"}],
                            "metadata": {"trace_id": trace_id, "trace_name": "harness-chaos-probe"}}
    if not cache:
        body["cache"] = {"no-cache": True}
    mock = stack.mock()
    since = mock.last_seq() if mock else 0
    sent_at = time.time()
    started = time.monotonic()
    result = ProbeResult(status=0, seconds=0.0, sent_at=sent_at, trace_id=trace_id, model=model)
    try:
        with stack.gateway(timeout=timeout) as client:
            client.headers.update(trace_headers(trace_id))
            if stream:
                _stream(client, {**body, "stream": True}, result)
            else:
                response = client.post("/v1/chat/completions", json=body)
                result.status = response.status_code
                result.served_by["headers"] = response.headers.get("x-litellm-model-group") \
                    if response.status_code == 200 else None
                if response.status_code == 200:
                    choice = response.json()["choices"][0]
                    result.text, result.finish_reason = choice["message"]["content"] or "", choice["finish_reason"]
                else:
                    result.error = response.text[:300]
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - started
    if mock is not None:
        aliases = stack.target.aliases()
        mine = [e for e in mock.requests(since=since) if nonce in e["body"]]
        ok = [e for e in mine if e["status"] == 200]
        result.served_by["provider_log"] = aliases.get(ok[-1]["model"]) if ok else None
        result.failed_attempts = [{"model": aliases.get(e["model"], e["model"]), "status": e["status"],
                                   "ts": e["ts"]} for e in mine if e["status"] != 200]
        mock.close()
    return result


def settle(stack: Stack, result: ProbeResult, deadline_s: float, poll_s: float = 0.25) -> None:
    """Reads the probe's trace into served_by and traced_failures, waiting up to `deadline_s` for it
    to hold what the outcome implies: a successful generation after a 200, a failed one otherwise.

    The provider log cannot say how many attempts failed before reaching a provider (a refused
    connection never does), so the wait is on the trace's content, not on a count.
    """
    langfuse = stack.langfuse()
    if langfuse is None:
        return
    aliases = stack.target.aliases()
    started = time.monotonic()
    generations: list[dict[str, Any]] = []
    found = False
    while True:
        trace = langfuse.trace(result.trace_id)
        if trace is not None:
            found = True
            generations = [o for o in trace.get("observations", []) if o.get("type") == "GENERATION"]
            failed = [o.get("level") == "ERROR" for o in generations]
            need_success = result.status == 200
            need_failure = result.status != 200 or result.served_by.get("headers") not in (None, result.model)
            if (not need_success or not all(failed)) and (not need_failure or any(failed)) and generations:
                break
        if time.monotonic() - started >= deadline_s:
            break
        time.sleep(poll_s)
    langfuse.close()
    if not found:
        result.served_by["trace"] = None
        return
    generations.sort(key=lambda o: str(o.get("startTime") or ""))
    good = [o for o in generations if o.get("level") != "ERROR"]
    result.served_by["trace"] = aliases.get(good[-1].get("model") or "", good[-1].get("model")) if good else None
    result.traced_failures = [aliases.get(o.get("model") or "", o.get("model") or "?") for o in generations
                              if o.get("level") == "ERROR"]


def _stream(client: httpx.Client, body: dict[str, Any], result: ProbeResult) -> None:
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        result.status = response.status_code
        if response.status_code != 200:
            result.error = response.read().decode(errors="replace")[:300]
            return
        result.served_by["headers"] = response.headers.get("x-litellm-model-group")
        parts = []
        try:
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if "error" in event:
                    result.stream_error = str(event["error"])[:300]
                    continue
                for choice in event.get("choices", []):
                    parts.append((choice.get("delta") or {}).get("content") or "")
                    result.finish_reason = choice.get("finish_reason") or result.finish_reason
        except httpx.HTTPError as exc:
            result.stream_error = f"{type(exc).__name__}: {exc}"
        result.text = "".join(parts)


def probe_webhook(stack: Stack, timeout: float = 120.0) -> ProbeResult:
    """One task to the routing webhook: its status, time, answer text or `error` message."""
    from harness.checks.routing import call_webhook

    sent_at = time.time()
    call = call_webhook(stack, f"2+2=? chaos probe {uuid.uuid4().hex[:12]}", timeout)
    result = ProbeResult(status=call.status, seconds=call.seconds, sent_at=sent_at, trace_id="",
                         model=str(call.body.get("route") or ""), text=str(call.body.get("result") or ""),
                         error=call.error)
    result.served_by["headers"] = call.body.get("route") if call.status == 200 else None
    return result


def probe_bot(stack: Stack, timeout: float = 30.0) -> ProbeResult:
    """One message to the bot through the Bot API stand-in: status 200 when a reply came, with its text."""
    from harness.checks.routing import booked_message

    telegram = stack.telegram()
    assert telegram is not None
    text = f"/test chaos probe {uuid.uuid4().hex[:12]}"
    with telegram, booked_message(stack, text):
        sent = telegram.send(text)
        replies = telegram.wait_reply(sent["message_id"], timeout_s=timeout)
    seconds = replies[0].received_at - sent["sent_at"] if replies else timeout
    text = "".join(m.text for m in replies)
    return ProbeResult(status=200 if replies else 0, seconds=seconds, sent_at=sent["sent_at"], trace_id="",
                       text=text, error="" if replies else f"no reply within {timeout:g} s")
