"""The spend guard: a call is reserved at its worst case before it is sent, refused (and never sent) past the
cap, and booked at its real cost once answered."""

from __future__ import annotations

import json

import httpx
import pytest

from harness.spend import OUTPUT_BOUND, Estimate, GuardedTransport, SpendCapReached, SpendLedger
from harness.target import Target

PRICES = {"gpt-4": (10.0, 30.0), "gemini-2": (0.10, 0.40)}


def _ledger(cap: float | None = None) -> SpendLedger:
    return SpendLedger(prices=PRICES, chains={"gemini-2": ["gpt-4"]}, cap_usd=cap, real_providers=True)


def _gateway(sent: list[dict[str, object]], status: int = 200, tokens: tuple[int, int] = (10, 20),
             served: str = "gemini-2") -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content) if request.content else {})
        body = {"choices": [{"message": {"content": "hi"}}],
                "usage": {"prompt_tokens": tokens[0], "completion_tokens": tokens[1]}}
        return httpx.Response(status, json=body if status == 200 else {"error": "no"},
                              headers={"x-litellm-model-group": served})
    return httpx.MockTransport(answer)


def test_a_call_that_could_pass_the_cap_is_refused_before_it_is_sent() -> None:
    sent: list[dict[str, object]] = []
    ledger = _ledger(cap=0.01)
    client = httpx.Client(transport=GuardedTransport(ledger, _gateway(sent)), base_url="http://gw")
    # gemini-2 falls back to gpt-4: its worst case is gpt-4's price for max_tokens 1000 output tokens = $0.03
    with pytest.raises(SpendCapReached, match="max_spend_usd"):
        client.post("/v1/chat/completions", json={"model": "gemini-2", "max_tokens": 1000,
                                                  "messages": [{"role": "user", "content": "hi"}]})
    assert sent == [] and ledger.summary().calls == 0 and "not sent" in (ledger.summary().refused or "")


def test_an_answered_call_is_booked_at_its_usage_and_the_served_models_price() -> None:
    sent: list[dict[str, object]] = []
    ledger = _ledger(cap=1.0)
    ledger.criterion = "GW-3"
    client = httpx.Client(transport=GuardedTransport(ledger, _gateway(sent)), base_url="http://gw")
    response = client.post("/v1/chat/completions", json={"model": "gemini-2", "messages": [{"role": "user",
                                                                                             "content": "hi"}]})
    assert response.json()["choices"][0]["message"]["content"] == "hi"  # the body still reaches the caller
    summary = ledger.summary()
    assert summary.calls == 1 and summary.usd == pytest.approx((10 * 0.10 + 20 * 0.40) / 1e6)
    assert summary.by_criterion["GW-3"].calls == 1


def test_a_failed_call_keeps_its_input_side_a_refused_one_costs_nothing_and_other_requests_pass_unbooked() -> None:
    sent: list[dict[str, object]] = []
    ledger = _ledger()
    body = {"model": "gpt-4", "messages": [{"role": "user", "content": "x" * 100}]}
    httpx.Client(transport=GuardedTransport(ledger, _gateway(sent, status=502))).post("http://gw/chat/completions",
                                                                                      json=body)
    assert 0 < ledger.summary().usd < ledger.cost("gpt-4", 200, OUTPUT_BOUND)
    failed = ledger.summary().usd
    client = httpx.Client(transport=GuardedTransport(ledger, _gateway(sent, status=429)), base_url="http://gw")
    client.post("/v1/chat/completions", json=body)
    assert ledger.summary().usd == failed and ledger.summary().calls == 2
    client.get("/v1/models")
    client.post("/key/generate", json={})
    assert ledger.summary().calls == 2


def test_a_task_to_the_routing_webhook_is_booked_whole() -> None:
    ledger = _ledger()
    inner = httpx.MockTransport(lambda request: httpx.Response(200, json={"route": "gpt-4", "result": "4"}))
    client = httpx.Client(transport=GuardedTransport(ledger, inner, routed_urls=["http://router/webhook/route"]))
    client.post("http://router/webhook/route", json={"task": "2+2=?"})
    # no usage in the router's answer: the reservation stands (priciest model, OUTPUT_BOUND tokens out)
    assert ledger.summary().usd >= OUTPUT_BOUND * 30.0 / 1e6


def test_against_the_mock_there_is_no_cap_unless_the_target_sets_one() -> None:
    from harness.stack import Stack

    mock = Stack.over(Target.embedded().model_copy(update={"mock_url": "http://mock"}))
    real = Stack.over(Target.embedded())
    capped = Stack.over(Target.embedded().model_copy(update={"mock_url": "http://mock", "max_spend_usd": 0.5}))
    assert mock.spend is not None and real.spend is not None and capped.spend is not None
    assert (mock.spend.cap_usd, mock.spend.real_providers) == (None, False)
    assert (real.spend.cap_usd, real.spend.real_providers) == (1.0, True)
    assert capped.spend.cap_usd == 0.5


def test_an_estimate_is_priced_on_the_priciest_model_it_may_use() -> None:
    ledger = _ledger()
    assert ledger.estimate(Estimate(2, 100, 10), ["gemini-2"]) == pytest.approx(2 * (100 * 0.1 + 10 * 0.4) / 1e6)
    assert ledger.estimate(Estimate(1, 100, 10)) == pytest.approx((100 * 10 + 10 * 30) / 1e6)


def test_a_stream_is_booked_from_its_content_as_it_is_read() -> None:
    ledger = _ledger()
    events = [{"choices": [{"delta": {"content": "x" * 40}}]}, {"choices": [{"delta": {}, "finish_reason": "stop"}]}]
    sse = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    # a stream the way a real transport returns it: not read yet
    inner = httpx.MockTransport(lambda request: httpx.Response(200, stream=httpx.ByteStream(sse), headers={
        "content-type": "text/event-stream", "x-litellm-model-group": "gemini-2"}))
    client = httpx.Client(transport=GuardedTransport(ledger, inner), base_url="http://gw")
    with client.stream("POST", "/v1/chat/completions", json={"model": "gemini-2", "stream": True,
                                                             "messages": [{"role": "user", "content": "hi"}]}) as r:
        assert b"[DONE]" in r.read()
    summary = ledger.summary()
    # 40 content characters as output tokens at the worst price of gemini-2's chain (gpt-4's $30/M), and
    # far below the 4,096-token reservation
    assert summary.calls == 1 and summary.worst_case_calls == 0
    assert summary.usd < ledger.cost("gpt-4", 200, 100) and summary.usd >= 40 * 30 / 1e6
