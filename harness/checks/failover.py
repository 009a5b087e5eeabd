"""FB-8 and FB-9 in acceptance, as an agent meets them, through the official `openai` SDK: its provider fails
inside an answer (an error event in a 200 stream), or refuses its prompt as too long. The chaos suite runs
the same faults from its scenarios (`stream-error`, `context-overflow`) on its own probe; here the client
is the agents' SDK, so what the verdict rests on is what an agent's code would see."""

from __future__ import annotations

from typing import Any

import openai

from harness.capabilities import Capability
from harness.checks.agents import client_for
from harness.registry import check
from harness.results import Outcome
from harness.spend import Estimate
from harness.stack import Stack

__all__ = ["context_overflow", "stream_error"]

_FAULTS = {"error-event": {"stream_error_after": 3},
           "error-mid-stream": {"stream_error_after": 10, "tokens_per_s": 20}}


def _stream(client: openai.OpenAI, model: str) -> dict[str, Any]:
    """One streamed request as an agent reads it: the model that answered, text, finish reason, any error."""
    seen: dict[str, Any] = {"served_by": None, "text": "", "finish": None, "error": ""}
    try:
        with client.chat.completions.with_streaming_response.create(
                model=model, messages=[{"role": "user", "content": "Write two sentences about gateways."}],
                stream=True, extra_body={"cache": {"no-cache": True}}) as raw:
            seen["served_by"] = raw.headers.get("x-litellm-model-group")
            for chunk in raw.parse():
                for choice in chunk.choices:
                    seen["text"] += choice.delta.content or ""
                    seen["finish"] = choice.finish_reason or seen["finish"]
    except openai.OpenAIError as exc:  # the SDK raises on an error event, a cut, or an error status
        seen["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return seen


@check("FB-8", needs={Capability.PROVIDER_CONTROL}, spend=lambda t: Estimate(2 * len(t.plan.chains), 20, 64))
def stream_error(stack: Stack) -> list[Outcome]:
    """FB-8: per plan chain, the primary's provider sends its error event inside a 200 stream (before the first
    byte, and mid-stream): the agent gets the fallback's whole answer or an error, never a finished stream."""
    mock = stack.mock()
    assert mock is not None
    outcomes = []
    try:
        with client_for(stack) as client:
            for primary in stack.target.plan.chains:
                for variant, fault in _FAULTS.items():
                    with mock.behaving(stack.target.upstream_model(primary), **fault):
                        seen = _stream(client, primary)
                    silent = not seen["error"] and seen["finish"] is not None and seen["served_by"] == primary
                    # a PASS rests on what the agent saw: an error, or a whole answer from another model
                    whole = not seen["error"] and seen["finish"] is not None and bool(seen["text"].strip()) \
                        and seen["served_by"] not in (None, primary)
                    outcomes.append(Outcome(
                        id="FB-8", case=f"{primary} / {variant}", passed=bool(seen["error"]) or whole,
                        measured={k: seen[k] for k in ("served_by", "finish", "error")},
                        threshold="a fallback's whole answer, or an error the agent sees",
                        detail=(f"the stream ended with finish_reason {seen['finish']!r} and no error: the "
                                "provider's failure passed as success") if silent else
                        (f"the agent got an error: {seen['error'][:120]}" if seen["error"] else
                         f"served whole by {seen['served_by']} ({seen['finish']})" if whole else
                         f"neither an error nor a whole answer: {len(seen['text'])} characters from "
                         f"{seen['served_by']}, finish_reason {seen['finish']!r}"),
                        evidence={"text": seen["text"][:200]}))
    finally:
        mock.close()
    return outcomes


@check("FB-9", needs={Capability.PROVIDER_CONTROL}, spend=lambda t: Estimate(len(t.plan.chains), 20, 64))
def context_overflow(stack: Stack) -> list[Outcome]:
    """FB-9: per plan chain, the primary refuses the prompt with its provider's context-length 400: the plan's
    long-context model answers it, or, where the primary is that model, the agent gets a clear 400."""
    long_model = stack.target.plan.long_context_model
    mock = stack.mock()
    assert mock is not None
    outcomes = []
    try:
        with client_for(stack) as client:
            for primary in stack.target.plan.chains:
                served, error = None, ""
                with mock.behaving(stack.target.upstream_model(primary), context_window=1):
                    try:
                        raw = client.chat.completions.with_raw_response.create(
                            model=primary, messages=[{"role": "user", "content": "Summarise this long document."}],
                            extra_body={"cache": {"no-cache": True}})
                        served = raw.headers.get("x-litellm-model-group")
                    except openai.BadRequestError as exc:
                        error = str(exc)[:200]
                    except openai.OpenAIError as exc:
                        error = f"{type(exc).__name__}: {str(exc)[:200]}"
                clear = bool(error) and any(w in error.lower() for w in ("context", "too long", "maximum"))
                ok = served == long_model if primary != long_model else (clear or served not in (None, primary))
                outcomes.append(Outcome(
                    id="FB-9", case=primary, passed=ok, measured={"served_by": served, "error": error[:120]},
                    threshold=f"served by {long_model}" if primary != long_model else "a clear 400",
                    detail=f"answered by {served} after the primary's context-length 400" if served else
                    f"the agent got: {error[:160]}"))
    finally:
        mock.close()
    return outcomes
