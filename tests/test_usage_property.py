"""Property: for any prompt, model and streaming on or off, the token usage agrees in the three places
the checks read it: the gateway's response, the provider's request log and the Langfuse trace."""

from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.stack import Stack
from harness.target import Target

CHAT_MODELS = [m.name for m in Target.embedded().chat_models()]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=600)


def _gateway_usage(stack: Stack, model: str, prompt: str, stream: bool, trace_id: str) -> dict[str, int]:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "metadata": {"trace_id": trace_id},
            "cache": {"no-cache": True}}
    with stack.gateway() as client:
        if not stream:
            response = client.post("/v1/chat/completions", json=body)
            assert response.status_code == 200, response.text[:300]
            return response.json()["usage"]
        body.update(stream=True, stream_options={"include_usage": True})
        usage: dict[str, int] = {}
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    usage = json.loads(line[6:]).get("usage") or usage
        return usage


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=TEXT, model=st.sampled_from(CHAT_MODELS), stream=st.booleans())
def test_usage_agrees_between_gateway_provider_and_trace(stack: Stack, prompt: str, model: str, stream: bool) -> None:
    nonce = uuid.uuid4().hex
    trace_id = f"prop-{nonce}"
    mock, langfuse = stack.mock(), stack.langfuse()
    assert mock is not None and langfuse is not None
    since = mock.last_seq()
    usage = _gateway_usage(stack, model, f"{nonce} {prompt}", stream, trace_id)
    provider = [e for e in mock.requests(since=since) if nonce in e["body"] and e["status"] == 200]
    assert len(provider) == 1, provider
    sent = provider[0]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (sent["prompt_tokens"], sent["completion_tokens"])
    trace = langfuse.wait_for_trace(trace_id, 10).trace
    assert trace is not None
    generation = next(o for o in trace["observations"] if o["type"] == "GENERATION")
    assert (generation["usage"]["input"], generation["usage"]["output"]) == \
        (sent["prompt_tokens"], sent["completion_tokens"])
    mock.close()
    langfuse.close()
