"""The mock providers speak each wire format with consistent usage, and obey their control API."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from harness._http import App
from harness.standins.mockllm import MockControl, create_app
from harness.standins.mockllm.text import count_tokens, embed

OPENAI = {"authorization": "Bearer sk-test"}


@pytest.fixture
def mock(serve_app: Callable[[App], str]) -> str:
    return serve_app(create_app())


def _sse(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ") and line != "data: [DONE]"]


def test_openai_plain_usage_counts_the_input(mock: str) -> None:
    body = {"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "Count these five words"}]}
    reply = httpx.post(f"{mock}/v1/chat/completions", json=body, headers=OPENAI).json()
    usage = reply["usage"]
    assert usage["prompt_tokens"] == count_tokens("Count these five words") + 4 + 3
    assert usage["completion_tokens"] == count_tokens(reply["choices"][0]["message"]["content"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_openai_stream_carries_the_plain_text_and_usage(mock: str) -> None:
    body = {"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "same prompt"}]}
    plain = httpx.post(f"{mock}/v1/chat/completions", json=body, headers=OPENAI).json()
    stream = httpx.post(f"{mock}/v1/chat/completions", headers=OPENAI,
                        json={**body, "stream": True, "stream_options": {"include_usage": True}})
    chunks = _sse(stream.text)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    assert stream.text.rstrip().endswith("data: [DONE]")
    assert chunks[-1]["usage"] == plain["usage"]


def test_anthropic_messages_plain_and_stream(mock: str) -> None:
    headers = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
    body = {"model": "claude-3-5-sonnet-20241022", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}
    plain = httpx.post(f"{mock}/v1/messages", json=body, headers=headers).json()
    assert plain["type"] == "message" and plain["usage"]["output_tokens"] > 0
    stream = httpx.post(f"{mock}/v1/messages", json={**body, "stream": True}, headers=headers).text
    events = [line[7:] for line in stream.splitlines() if line.startswith("event: ")]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    deltas = [json.loads(line[6:])["delta"]["text"] for line in stream.splitlines()
              if line.startswith("data: ") and '"text_delta"' in line]
    assert "".join(deltas) == plain["content"][0]["text"]


def test_gemini_generate_and_sse_stream(mock: str) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "What's 2+2?"}]}]}
    url = f"{mock}/v1beta/models/gemini-2.0-flash-exp"
    plain = httpx.post(f"{url}:generateContent", json=body, headers={"x-goog-api-key": "k"}).json()
    text = plain["candidates"][0]["content"]["parts"][0]["text"]
    stream = httpx.post(f"{url}:streamGenerateContent?alt=sse&key=k", json=body).text
    parts = [json.loads(line[6:])["candidates"][0]["content"]["parts"][0]["text"]
             for line in stream.splitlines() if line.startswith("data: ")]
    assert "".join(parts) == text
    assert plain["usageMetadata"]["promptTokenCount"] == count_tokens("What's 2+2?") + 1


def test_missing_key_is_rejected_per_provider(mock: str) -> None:
    assert httpx.post(f"{mock}/v1/chat/completions", json={"model": "m", "messages": []}).status_code == 401
    assert httpx.post(f"{mock}/v1/messages", json={"model": "m", "messages": []}).status_code == 401
    assert httpx.post(f"{mock}/v1beta/models/m:generateContent", json={}).status_code == 403


def test_forced_429_with_retry_after_and_request_log(mock: str) -> None:
    control = MockControl(mock)
    control.set("gpt-4-turbo", status=429, retry_after_s=7)
    before = control.last_seq()
    response = httpx.post(f"{mock}/v1/chat/completions", headers=OPENAI,
                          json={"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["error"]["type"] == "rate_limit_exceeded"
    log = control.requests(since=before)
    assert [(e["model"], e["status"]) for e in log] == [("gpt-4-turbo", 429)]
    assert log[0]["headers"]["authorization"] == "***"
    control.reset()
    assert httpx.post(f"{mock}/v1/chat/completions", headers=OPENAI,
                      json={"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "x"}]}).status_code == 200


def test_retry_after_escalates_per_failure_and_starts_again_when_set(mock: str) -> None:
    control = MockControl(mock)
    body = {"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "x"}]}

    def asked() -> str:
        return httpx.post(f"{mock}/v1/chat/completions", headers=OPENAI, json=body).headers["retry-after"]

    control.set("gpt-4-turbo", status=429, retry_after_s=1, retry_after_growth=2)
    since = control.last_seq()
    assert [asked(), asked(), asked()] == ["1", "2", "4"]
    assert [e["retry_after_s"] for e in control.requests(since=since)] == [1, 2, 4]  # what a check times against
    control.set("gpt-4-turbo", status=429, retry_after_s=1, retry_after_growth=2)
    assert asked() == "1"
    control.reset()


def test_anthropic_overloaded_529(mock: str) -> None:
    MockControl(mock).set("provider:anthropic", status=529)
    response = httpx.post(f"{mock}/v1/messages", headers={"x-api-key": "k"},
                          json={"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 529 and response.json()["error"]["type"] == "overloaded_error"


def test_failure_ratio_fails_about_that_share(mock: str) -> None:
    MockControl(mock).set("*", status=500, failure_ratio=0.3)
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    with httpx.Client(headers=OPENAI) as client:
        codes = [client.post(f"{mock}/v1/chat/completions", json=body).status_code for _ in range(400)]
    assert 0.2 < codes.count(500) / len(codes) < 0.4


def test_stream_cut_drops_the_connection_mid_stream(mock: str) -> None:
    MockControl(mock).set("m", stream_cut_after=3)
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{mock}/v1/chat/completions", json=body, headers=OPENAI)


def test_latency_and_pace_are_applied(mock: str) -> None:
    MockControl(mock).set("m", latency_ms=200, tokens_per_s=100, output_tokens=10)
    response = httpx.post(f"{mock}/v1/chat/completions", headers=OPENAI,
                          json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert response.elapsed.total_seconds() >= 0.2 + 0.09


def test_invalid_behaviour_is_refused_with_the_reason(mock: str) -> None:
    response = httpx.put(f"{mock}/_control/behaviour/m", json={"retry_after_s": 3})
    assert response.status_code == 422 and "needs a forced status" in response.json()["message"]
    assert httpx.put(f"{mock}/_control/behaviour/m", json={"latncy_ms": 3}).status_code == 422


def test_embeddings_put_paraphrases_closer_than_unrelated_text() -> None:
    def cosine(a: str, b: str) -> float:
        return sum(x * y for x, y in zip(embed(a, 256), embed(b, 256), strict=True))

    question = "How do I reset my account password?"
    assert cosine(question, "How can I reset the password of my account?") > 0.6
    assert cosine(question, "Weather forecast for Chicago tomorrow") < 0.3
