"""The spend guard: every LLM call the harness sends is paid for in advance, against `max_spend_usd`.

Before a call leaves, its worst case is reserved: the priciest model it may reach (its plan chain and the
config's fallbacks) at the plan's list prices, for every byte of its input as a token and its `max_tokens`
(else `OUTPUT_BOUND`) as output. A call that would take the harness past the cap is never sent:
`SpendCapReached` stops the run with one line. Once the answer is in, the reservation becomes the call's
cost from the usage the gateway returned, at the served model's list price; a failed call keeps its input
side unless it was refused (4xx: nothing is billed), a streamed one its usage where the stream carries one,
else its content characters as output tokens, booked as it is read.

The cap applies to providers the harness does not control. Against the harness's mock the ledger still
counts (what the same calls would cost at list prices), with no cap unless the target sets one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, Field

__all__ = ["DEFAULT_CAP_USD", "LLM_PATHS", "OUTPUT_BOUND", "CriterionSpend", "Estimate", "GuardedTransport",
           "Reservation", "SpendCapReached", "SpendLedger", "SpendSummary", "per_chat_model"]

DEFAULT_CAP_USD = 1.00  # when the providers are real and the target sets no max_spend_usd
OUTPUT_BOUND = 4096  # output tokens assumed for a call without max_tokens (Anthropic's usual default)
LLM_PATHS = ("/chat/completions", "/completions", "/embeddings", "/messages", "/responses")
_PER_TOKEN = 1e-6  # list prices are USD per 1M tokens


class SpendCapReached(RuntimeError):
    """The next call could take the harness's spend past `max_spend_usd`: it was not sent."""


@dataclass(frozen=True)
class Estimate:
    """What a check is expected to send: `calls` LLM calls of about `input_tokens` in and `output_tokens`
    out each (the preview's figure; the per-call reservation is the hard bound)."""

    calls: int
    input_tokens: int = 60
    output_tokens: int = 64
    model: str | None = None  # the model the calls go to, where the check names one (else: the priciest)


@dataclass
class Reservation:
    model: str | None
    usd: float
    input_usd: float
    criterion: str


class CriterionSpend(BaseModel):
    calls: int = 0
    usd: float = 0.0


class SpendSummary(BaseModel):
    """What the harness itself sent and what it cost at the plan's list prices, for the report."""

    real_providers: bool = Field(description="the providers are not the harness's mock: the money is real")
    cap_usd: float | None = None
    calls: int = 0
    usd: float = 0.0
    worst_case_calls: int = Field(0, description="calls booked at their reservation: routed or sent to the bot, "
                                                 "whose usage the harness does not see")
    by_criterion: dict[str, CriterionSpend] = Field(default_factory=dict)
    refused: str | None = Field(None, description="the call the guard did not send, and why")

    def line(self) -> str:
        cap = f" of the ${self.cap_usd:.2f} cap (max_spend_usd)" if self.cap_usd is not None else ""
        worst = f", {self.worst_case_calls} of them counted at their worst case (usage not visible)" \
            if self.worst_case_calls else ""
        if self.real_providers:
            return f"harness spend: ${self.usd:.4f}{cap} in {self.calls} LLM calls (at the plan's list prices{worst})"
        return (f"harness spend: $0 on real providers (the providers were the harness's mock; its {self.calls} LLM "
                f"calls would cost ${self.usd:.4f} at the plan's list prices{worst}{cap})")


class SpendLedger:
    """Reservations and costs of one run's LLM calls; safe to share between threads. `criterion` is the
    criterion being decided (set by the pytest plugin): each call is booked to it."""

    def __init__(self, *, prices: dict[str, tuple[float, float]], chains: dict[str, list[str]] | None = None,
                 cap_usd: float | None = None, real_providers: bool = False) -> None:
        if not prices:
            raise ValueError("the spend guard needs a price table: plan.list_prices is empty")
        self.prices = dict(prices)
        self.chains = dict(chains or {})
        self.cap_usd = cap_usd
        self.real_providers = real_providers
        self.criterion = "-"
        self._lock = threading.Lock()
        self._reserved = 0.0
        self._summary = SpendSummary(real_providers=real_providers, cap_usd=cap_usd)

    def price(self, model: str | None) -> tuple[float, float]:
        """USD per 1M input and output tokens of a model; the priciest of the table for a model it lacks."""
        if model in self.prices:
            return self.prices[model]
        return max(self.prices.values(), key=lambda p: p[0] + p[1])

    def worst_price(self, model: str | None) -> tuple[float, float]:
        """The priciest model a call to `model` may reach: the model and every model of its chain."""
        reach = [model, *self.chains.get(model or "", [])]
        prices = [self.price(m) for m in reach]
        return max(p[0] for p in prices), max(p[1] for p in prices)

    def cost(self, model: str | None, input_tokens: int, output_tokens: int, *, worst: bool = False) -> float:
        in_price, out_price = self.worst_price(model) if worst else self.price(model)
        return (input_tokens * in_price + output_tokens * out_price) * _PER_TOKEN

    def estimate(self, estimate: Estimate, models: Iterable[str] = ()) -> float:
        """A check's expected cost: its calls on its model, else on the priciest of `models` (of the whole table
        without any)."""
        chosen = [estimate.model] if estimate.model else list(models) or list(self.prices)
        return estimate.calls * max(self.cost(m, estimate.input_tokens, estimate.output_tokens) for m in chosen)

    def reserve(self, model: str | None, input_tokens: int, output_tokens: int) -> Reservation:
        """Books a call's worst case before it is sent; `SpendCapReached` (and nothing sent) past the cap."""
        usd = self.cost(model, input_tokens, output_tokens, worst=True)
        input_usd = self.cost(model, input_tokens, 0, worst=True)
        with self._lock:
            if self.cap_usd is not None and self._summary.usd + self._reserved + usd > self.cap_usd:
                reason = (f"spend guard: the next call ({model or 'a routed call'}, worst case ${usd:.4f}) could take "
                          f"the harness past max_spend_usd ${self.cap_usd:.2f} (spent ${self._summary.usd:.4f} in "
                          f"{self._summary.calls} calls); not sent. Raise max_spend_usd in the target, or run fewer "
                          f"checks (-k)")
                self._summary.refused = reason
                raise SpendCapReached(reason)
            self._reserved += usd
        return Reservation(model, usd, input_usd, self.criterion)

    def settle(self, reservation: Reservation, usd: float | None) -> None:
        """The call's real cost replaces its reservation; None keeps the whole reservation."""
        with self._lock:
            self._reserved -= reservation.usd
            spent = reservation.usd if usd is None else usd
            self._summary.worst_case_calls += usd is None
            self._summary.calls += 1
            self._summary.usd += spent
            booked = self._summary.by_criterion.setdefault(reservation.criterion, CriterionSpend())
            booked.calls += 1
            booked.usd += spent

    def settle_answer(self, reservation: Reservation, status: int, body: Any, served_by: str | None = None) -> None:
        """From a gateway's answer: its usage at the served model's list price; nothing for a refusal (4xx);
        the input side of any other failure;
        the whole reservation for an answer without usage (a router's, whose calls are not shown)."""
        if 400 <= status < 500:  # refused (key, quota, budget, bad request): no provider bills a refusal
            self.settle(reservation, 0.0)
            return
        if status != 200:  # a provider may have read the prompt before failing
            self.settle(reservation, reservation.input_usd)
            return
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            self.settle(reservation, None)
            return
        model = served_by if served_by in self.prices else reservation.model
        prompt = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
        completion = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
        self.settle(reservation, self.cost(model, prompt, completion))

    def book(self, usd: float, criterion: str) -> None:
        """A call another process sent (a load generator's), booked after the fact at its cost."""
        self.settle(Reservation(None, 0.0, 0.0, criterion), usd)

    def calls_within_cap(self, per_call_usd: float) -> int | None:
        """How many calls of `per_call_usd` fit under the cap from here; None without a cap."""
        if self.cap_usd is None:
            return None
        with self._lock:
            left = self.cap_usd - self._summary.usd - self._reserved
        return max(0, int(left / per_call_usd)) if per_call_usd > 0 else None

    def summary(self) -> SpendSummary:
        with self._lock:
            return self._summary.model_copy(deep=True)


def _output_bound(body: dict[str, Any], path: str) -> int:
    if path.endswith("/embeddings"):
        return 0
    for name in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = body.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return OUTPUT_BOUND


def _input_bytes(body: dict[str, Any]) -> int:
    """Every byte of what the model reads, as a token each: no tokenizer makes more tokens than bytes."""
    parts = [body.get(k) for k in ("messages", "input", "prompt", "system", "tools", "task") if body.get(k)]
    return max(1, len(json.dumps(parts, ensure_ascii=False).encode()))


def _content_chars(event: dict[str, Any]) -> int:
    """The characters of generated content in one stream event (OpenAI deltas, Anthropic deltas)."""
    count = 0
    for choice in event.get("choices") or []:
        delta = choice.get("delta") or {} if isinstance(choice, dict) else {}
        count += len(delta.get("content") or "")
        for call in delta.get("tool_calls") or []:
            fn = call.get("function") or {}
            count += len(fn.get("name") or "") + len(fn.get("arguments") or "")
    delta = event.get("delta") if isinstance(event.get("delta"), dict) else {}
    return count + len(delta.get("text") or "") + len(delta.get("partial_json") or "")


class _MeteredStream(httpx.SyncByteStream):
    """A streamed answer that books its own cost once read (or closed): its usage if it carries one (OpenAI
    `usage`, Anthropic `message_delta`), else its content characters as output tokens."""

    def __init__(self, inner: httpx.SyncByteStream, ledger: SpendLedger, reservation: Reservation,
                 served_by: str | None) -> None:
        self.inner, self.ledger, self.reservation, self.served_by = inner, ledger, reservation, served_by
        self.pending, self.chars, self.usage, self.done = b"", 0, None, False
        self.output_tokens: int | None = None

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self._scan(chunk)
            yield chunk

    def _scan(self, chunk: bytes) -> None:
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            try:
                event = json.loads(line[5:].strip() or b"null")
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            if isinstance(event.get("usage"), dict):
                usage = event["usage"]
                if "prompt_tokens" in usage or "input_tokens" in usage:
                    self.usage = usage
                elif "output_tokens" in usage:  # Anthropic's message_delta: output only
                    self.output_tokens = int(usage["output_tokens"] or 0)
            self.chars += _content_chars(event)

    def close(self) -> None:
        if not self.done:
            self.done = True
            model = self.served_by if self.served_by in self.ledger.prices else self.reservation.model
            if self.usage is not None:
                prompt = int(self.usage.get("prompt_tokens") or self.usage.get("input_tokens") or 0)
                completion = int(self.usage.get("completion_tokens") or self.usage.get("output_tokens") or 0)
                self.ledger.settle(self.reservation, self.ledger.cost(model, prompt, completion))
            else:
                out = self.output_tokens if self.output_tokens is not None else self.chars
                self.ledger.settle(self.reservation, min(self.reservation.usd, self.reservation.input_usd +
                                                         self.ledger.cost(self.reservation.model, 0, out,
                                                                          worst=True)))
        self.inner.close()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that reserves each LLM call (a POST to an OpenAI/Anthropic path, or to one of
    `routed_urls`, where the model is the router's choice) before the inner transport sends it."""

    def __init__(self, ledger: SpendLedger, inner: httpx.BaseTransport | None = None,
                 routed_urls: Iterable[str] = ()) -> None:
        self.ledger = ledger
        self.inner = inner or httpx.HTTPTransport()
        self.routed = {str(httpx.URL(u)).rstrip("/") for u in routed_urls if u}

    def _is_llm_call(self, request: httpx.Request) -> bool:
        if request.method != "POST":
            return False
        url = str(request.url.copy_with(query=None)).rstrip("/")
        return request.url.path.endswith(LLM_PATHS) or url in self.routed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self._is_llm_call(request):
            return self.inner.handle_request(request)
        try:
            body = json.loads(request.read() or b"{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        model = body.get("model") if isinstance(body.get("model"), str) else None
        reservation = self.ledger.reserve(model, _input_bytes(body), _output_bound(body, request.url.path))
        try:
            response = self.inner.handle_request(request)
        except BaseException:
            self.ledger.settle(reservation, reservation.input_usd)
            raise
        if body.get("stream") and response.status_code == 200:
            # booked as it is read: its usage where the stream carries one, else every content character
            # as an output token (no tokenizer makes fewer characters than tokens), at the worst price
            response.stream = _MeteredStream(response.stream, self.ledger, reservation,
                                             response.headers.get("x-litellm-model-group"))
            return response
        content = response.read()
        try:
            parsed = json.loads(content) if content else None
        except ValueError:
            parsed = None
        self.ledger.settle_answer(reservation, response.status_code, parsed,
                                  response.headers.get("x-litellm-model-group"))
        return response

    def close(self) -> None:
        self.inner.close()


def per_chat_model(times: int = 1, input_tokens: int = 30) -> Callable[[Any], Estimate]:
    """An estimate for a check that calls each of the target's chat models `times` times."""
    return lambda target: Estimate(times * len(target.chat_models()), input_tokens)
