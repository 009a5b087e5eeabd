"""Gateway checks GW-1..GW-5 (VPS plan slice 1, Fly.io smoke and cutover).

Each takes a Stack and returns an Outcome; suites assert on it, negative controls in `tests/`
run the same function against a stack broken on purpose.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai

from harness._proc import wait_until
from harness.checks._calls import chat
from harness.registry import check
from harness.results import Outcome
from harness.spend import Estimate, per_chat_model
from harness.stack import Stack

__all__ = ["auth_enforced", "each_model_answers", "gateway_ready", "model_catalogue", "openai_sdk_dropin"]


def _nonce() -> str:
    return uuid.uuid4().hex[:12]


@check("GW-1")
def gateway_ready(stack: Stack) -> Outcome:
    """GW-1: `/health/readiness` (on the health port when there is one) answers 200 within the wait."""
    limit = stack.target.threshold("GW-1")
    url = f"{stack.health_url or stack.gateway_url}/health/readiness"
    last: dict[str, Any] = {}

    def probe() -> bool:
        try:
            response = httpx.get(url, timeout=min(5.0, limit))
        except httpx.HTTPError as exc:
            last["error"] = f"{type(exc).__name__}: {exc}"
            return False
        last.update(status=response.status_code, body=response.text[:300])
        return response.status_code == 200

    try:
        seconds = wait_until(probe, limit, interval_s=0.25)
    except TimeoutError:
        return Outcome(id="GW-1", passed=False, measured=None, threshold=limit, unit="s",
                       detail=f"{url} not ready within {limit:g} s: {last.get('error') or last.get('status')}",
                       evidence={"url": url, **last})
    return Outcome(id="GW-1", passed=True, measured=round(seconds, 3), threshold=limit, unit="s",
                   detail=f"{url} answered 200", evidence={"url": url, **last})


@check("GW-2")
def model_catalogue(stack: Stack) -> Outcome:
    """GW-2: `GET /v1/models` lists exactly the configured model names."""
    expected = sorted(m.name for m in stack.target.models)
    with stack.gateway() as client:
        response = client.get("/v1/models")
    if response.status_code != 200:
        return Outcome(id="GW-2", passed=False, measured=f"HTTP {response.status_code}", threshold=expected,
                       detail=f"/v1/models answered {response.status_code}", evidence={"body": response.text[:300]})
    listed = sorted(item["id"] for item in response.json().get("data", []))
    missing, extra = sorted(set(expected) - set(listed)), sorted(set(listed) - set(expected))
    detail = "catalogue matches" if not (missing or extra) else \
        f"missing {missing or 'none'}, unexpected {extra or 'none'}"
    return Outcome(id="GW-2", passed=not missing and not extra, measured=listed, threshold=expected,
                   detail=detail, evidence={"missing": missing, "unexpected": extra})


def _body_problems(body: Any) -> list[str]:
    problems = []
    try:
        content = body["choices"][0]["message"]["content"]
        if not isinstance(content, str) or not content:
            problems.append("empty message content")
        usage = body["usage"]
        prompt, completion, total = usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]
        if not (isinstance(prompt, int) and isinstance(completion, int) and prompt > 0 and completion > 0):
            problems.append(f"usage not positive integers: {usage}")
        elif total != prompt + completion:
            problems.append(f"usage total {total} != {prompt}+{completion}")
        if body.get("object") != "chat.completion":
            problems.append(f"object is {body.get('object')!r}")
    except (KeyError, IndexError, TypeError) as exc:
        problems.append(f"not an OpenAI chat completion body (missing {exc})")
    return problems


@check("GW-3", spend=per_chat_model(input_tokens=20))
def each_model_answers(stack: Stack) -> Outcome:
    """GW-3: every chat model answers itself (not through a fallback) with a valid body and usage."""
    results: dict[str, str] = {}
    evidence: dict[str, Any] = {}
    for model in stack.target.chat_models():
        call = chat(stack, model.name, "Smoke test: say hello.")
        problems = [] if call.status == 200 else [f"HTTP {call.status}: {str(call.body)[:200]}"]
        if not problems:
            problems = _body_problems(call.body)
            fallbacks = call.headers.get("x-litellm-attempted-fallbacks", "0")
            if fallbacks not in ("0", ""):
                served = call.headers.get("x-litellm-model-group") or call.headers.get("x-litellm-model-name")
                problems.append(f"served by fallback ({fallbacks} attempted, answered by {served})")
        results[model.name] = "; ".join(problems) or "ok"
        evidence[model.name] = {"status": call.status, "seconds": round(call.seconds, 3),
                                "served_by": call.headers.get("x-litellm-model-name")}
    failed = {m: why for m, why in results.items() if why != "ok"}
    return Outcome(id="GW-3", passed=bool(results) and not failed,
                   measured=f"{len(results) - len(failed)}/{len(results)} models answered",
                   threshold=f"{len(results)}/{len(results)}",
                   detail="; ".join(f"{m}: {why}" for m, why in failed.items()) or "every model answered itself",
                   evidence=evidence)


@check("GW-4", spend=Estimate(3, 10))
def auth_enforced(stack: Stack) -> Outcome:
    """GW-4: no key, a wrong key and a revoked-looking key all get 401, and nothing reaches a provider."""
    model = stack.target.chat_models()[0].name
    mock = stack.mock()
    before = mock.last_seq() if mock else None
    attempts = {"no key": "", "wrong key": f"sk-wrong-{_nonce()}", "revoked key": f"sk-revoked-{_nonce()}"}
    statuses: dict[str, int] = {}
    for label, key in attempts.items():
        statuses[label] = chat(stack, model, "hi", key=key).status
    upstream = len(mock.requests(since=before)) if mock and before is not None else None
    bad = {label: code for label, code in statuses.items() if code != 401}
    problems = [f"{label} got {code}" for label, code in bad.items()]
    if upstream:
        problems.append(f"{upstream} call(s) reached the provider")
    detail = "; ".join(problems) or "every unauthenticated call got 401"
    if upstream is None:  # decided on the answers alone: say so, never claim what was not seen
        detail += "; whether any reached a provider was not observed (no provider log: mock_url)"
    elif not problems:
        detail += ", and none reached a provider (provider log)"
    return Outcome(id="GW-4", passed=not problems, measured=statuses, threshold="401 for each, 0 upstream calls",
                   detail=detail, evidence={"upstream_calls": upstream,
                                            "decided_by": ["status codes"] + (["provider log"] if upstream is not None
                                                                              else [])})


@check("GW-5", spend=Estimate(3, 30))
def openai_sdk_dropin(stack: Stack) -> Outcome:
    """GW-5: the official `openai` SDK works unchanged: chat, streaming (same text), embeddings."""
    key = stack.master_key.get_secret_value() if stack.master_key else "none"
    # the SDK's own httpx client, with the spend guard's transport: its calls are booked like every other
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=key, max_retries=0, timeout=60,
                           http_client=stack.http(timeout=60))
    chat_model = stack.target.chat_models()[0].name
    embed_models = [m.name for m in stack.target.models if m.mode == "embedding"]
    prompt = [{"role": "user", "content": f"Drop-in check {_nonce()}: describe a gateway."}]
    # a cache hit would replay the plain answer into the stream and hide a truncated stream
    no_cache = {"cache": {"no-cache": True}}
    problems: list[str] = []
    evidence: dict[str, Any] = {}
    try:
        plain = client.chat.completions.create(model=chat_model, messages=prompt, extra_body=no_cache)
        plain_text = plain.choices[0].message.content or ""
        streamed: list[str] = []
        finish = None
        for chunk in client.chat.completions.create(model=chat_model, messages=prompt, stream=True,
                                                    extra_body=no_cache):
            if chunk.choices:
                streamed.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
        stream_text = "".join(streamed)
        evidence.update(plain_chars=len(plain_text), stream_chars=len(stream_text), finish_reason=finish)
        if stream_text != plain_text:
            problems.append(f"streamed text ({len(stream_text)} chars) differs from plain ({len(plain_text)} chars)")
        if finish is None:
            problems.append("stream ended without a finish_reason")
    except openai.OpenAIError as exc:
        problems.append(f"chat/stream: {type(exc).__name__}: {str(exc)[:200]}")
    if embed_models:
        try:
            texts = [f"gateway {_nonce()}", f"harness {_nonce()}"]
            vectors = client.embeddings.create(model=embed_models[0], input=texts, extra_body=no_cache)
            dims = {len(item.embedding) for item in vectors.data}
            evidence["embedding_dims"] = sorted(dims)
            if len(vectors.data) != 2 or not all(dims):
                problems.append(f"embeddings: {len(vectors.data)} vectors of {dims} dims")
        except openai.OpenAIError as exc:
            problems.append(f"embeddings: {type(exc).__name__}: {str(exc)[:200]}")
    else:
        evidence["embeddings"] = "no embedding model configured"
    client.close()
    parts = ["chat", "stream"] + (["embeddings"] if embed_models else [])
    return Outcome(id="GW-5", passed=not problems, measured="; ".join(problems) or f"{'+'.join(parts)} ok",
                   threshold="all succeed, streamed text == plain text",
                   detail="; ".join(problems) or "openai SDK works unchanged", evidence=evidence)
