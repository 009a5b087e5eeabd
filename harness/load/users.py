"""Locust users for chat completions; imported only inside the load runner process (gevent patches).

Each request is timed here, not by Locust: with a streamed body Locust's clock stops at the
headers. TTFT, inter-token gaps and end-to-end are measured as the SSE lines arrive, then reported
through `events.request` (Locust's statistics) and kept whole as a `Sample` (the harness's).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import asdict
from typing import Any, ClassVar

import gevent
import gevent.pool
from geventhttpclient import HTTPClient
from locust import LoadTestShape, User, between, constant, task
from locust.exception import StopUser

from harness.agents import with_nonce
from harness.load.payloads import TokenCount, synth_prompt
from harness.load.samples import Sample

__all__ = ["ArrivalUser", "ChatUser", "RunShape", "configure"]


class _Settings:
    """What every user reads: the run's spec (set once per process by `configure`) and the sample sink."""

    spec: ClassVar[dict[str, Any]] = {}
    keys: ClassVar[list[str]] = []
    next_key: ClassVar[int] = 0
    worker: ClassVar[str] = "local"
    pending: ClassVar[list[dict[str, Any]]] = []
    issued: ClassVar[int] = 0
    sent: ClassVar[int] = 0  # samples made in this process (a worker prints it: the master's count is checked)
    prompt_tokens: ClassVar[TokenCount | None] = None
    output_tokens: ClassVar[TokenCount | None] = None
    next_row: ClassVar[int] = 0


def configure(spec: dict[str, Any], key: str, worker: str) -> None:
    _Settings.spec, _Settings.keys, _Settings.worker = spec, key.split(","), worker
    for name in ("prompt_tokens", "output_tokens"):
        setattr(_Settings, name, TokenCount(**spec[name]) if spec.get(name) else None)
    low, high = spec["think_time_s"]
    ChatUser.wait_time = between(low, high) if high > 0 else constant(0)


def _budget_left() -> bool:
    """Every run is bounded in requests as well as time; `max_requests` is per process."""
    if _Settings.issued >= _Settings.spec["max_requests"]:
        return False
    _Settings.issued += 1
    return True


class _Chat:
    """One gateway connection pool; `call()` sends one chat completion and measures it from outside."""

    def __init__(self, concurrency: int) -> None:
        spec = _Settings.spec
        self.http = HTTPClient.from_url(spec["url"], concurrency=concurrency, connection_timeout=5.0,
                                        network_timeout=spec["timeout_s"])
        self.path = spec["path"]
        key = _Settings.keys[_Settings.next_key % len(_Settings.keys)]  # keys spread over users in turn
        _Settings.next_key += 1
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.rng = random.Random()

    def call(self, environment: Any, intended: float | None = None, stage: int = 0) -> None:
        spec = _Settings.spec
        if spec.get("shapes"):  # the agents' own requests (tools, schemas, streaming), by weight
            shape = self.rng.choices(spec["shapes"], weights=[s["weight"] for s in spec["shapes"]])[0]
            body: dict[str, Any] = with_nonce(shape["body"])
            stream, model = bool(body.get("stream")), str(body["model"])
        else:
            stream = self.rng.random() < spec["stream_ratio"]
            body = self._body(spec, stream)
            model = body["model"]
        sample = Sample(sent=time.time(), status=0, e2e_s=0.0, intended=intended, stream=stream, model=model,
                        stage=stage, worker=_Settings.worker, max_tokens=body.get("max_tokens"))
        started = time.perf_counter()
        response = None
        try:
            response = self.http.post(self.path, body=json.dumps(body), headers=self.headers)
            sample.status = response.status_code
            if stream and sample.status == 200:
                self._read_stream(response, sample, started)
            else:
                payload = response.read()
                if sample.status == 200:
                    usage = json.loads(payload).get("usage") or {}
                    sample.output_tokens = int(usage.get("completion_tokens") or 0)
                    sample.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                else:
                    sample.error = f"HTTP {sample.status}: {payload[:120].decode('utf-8', 'replace')}"
        except Exception as exc:  # every failure becomes a sample: a generator that drops errors lies
            sample.error = f"{type(exc).__name__}: {str(exc)[:120]}"
        finally:
            if response is not None:
                response.release()
        sample.e2e_s = time.perf_counter() - started
        environment.events.request.fire(
            request_type="POST", name=f"{model} {'stream' if stream else 'chat'}",
            response_time=sample.latency_s * 1000, response_length=sample.output_tokens,
            exception=RuntimeError(sample.error) if sample.error else None, context={}, response=None,
            start_time=sample.sent, url=self.path)
        _Settings.pending.append(asdict(sample))
        _Settings.sent += 1

    def _body(self, spec: dict[str, Any], stream: bool) -> dict[str, Any]:
        """One request of the payload mix: a dataset row, a synthetic prompt of a drawn length, or a prompt."""
        weights = spec.get("model_weights") or None
        model = self.rng.choices(spec["models"], weights=weights)[0]
        nonce = uuid.uuid4().hex[:12]  # unique: no cache hits
        max_tokens = _Settings.output_tokens.sample(self.rng) if _Settings.output_tokens else spec["max_tokens"]
        if spec.get("dataset"):
            row = spec["dataset"][_Settings.next_row % len(spec["dataset"])]
            _Settings.next_row += 1
            messages = _with_prefix(row["messages"], f"[{nonce}] ")
            if row.get("output_tokens") and not _Settings.output_tokens:
                max_tokens = row["output_tokens"]
        elif _Settings.prompt_tokens:
            messages = [{"role": "user", "content": synth_prompt(_Settings.prompt_tokens.sample(self.rng), self.rng,
                                                                 nonce)}]
        else:
            messages = [{"role": "user", "content": f"[{nonce}] {self.rng.choice(spec['prompts'])}"}]
        body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens, "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    @staticmethod
    def _read_stream(response: Any, sample: Sample, started: float) -> None:
        """Parses SSE lines as they arrive: TTFT at the first content delta, a gap for each later one."""
        last = None
        while True:
            line = response.readline(b"\n")
            if not line:
                break
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                sample.error = "BadChunk: a stream line was not JSON"
                break
            if chunk.get("error"):
                sample.error = f"StreamError: {str(chunk['error'])[:120]}"
                break
            usage = chunk.get("usage")
            if usage:
                sample.output_tokens = int(usage.get("completion_tokens") or sample.output_tokens)
                sample.prompt_tokens = int(usage.get("prompt_tokens") or sample.prompt_tokens)
            for choice in chunk.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    now = time.perf_counter()
                    if last is None:
                        sample.ttft_s = now - started
                    else:
                        sample.itl_s.append(now - last)
                    last = now
        if last is None and not sample.error:
            sample.error = "EmptyStream: no content delta before the stream ended"


def _with_prefix(messages: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The messages with `prefix` before the last user turn's text (a copy: the dataset row is reused)."""
    out = [dict(m) for m in messages]
    for message in reversed(out):
        if message.get("role") == "user":
            content = message.get("content")
            message["content"] = prefix + content if isinstance(content, str) else \
                [{"type": "text", "text": prefix}, *(content or [])]
            break
    return out


class ChatUser(User):
    """Closed loop: ask, wait for the whole answer, think, ask again."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.chat = _Chat(concurrency=1)

    @task
    def ask(self) -> None:
        if not _budget_left():
            raise StopUser()
        self.chat.call(self.environment)


class ArrivalUser(User):
    """Open loop: one lane of the arrival schedule; sends at the planned times whatever the answers do."""

    wait_time = constant(0)

    @task
    def run_schedule(self) -> None:
        spec = _Settings.spec
        lanes = max(1, int(spec["lanes"]))
        chat = _Chat(concurrency=spec["max_concurrency"])
        pool = gevent.pool.Pool(spec["max_concurrency"])
        rng = random.Random()
        start, offset, stage_start = time.time(), 0.0, 0.0
        poisson = spec["arrival"] == "poisson"
        for stage, (until_s, rate) in enumerate(spec["rates"]):
            gap = lanes / rate  # each lane carries 1/lanes of the rate; Poisson lanes add up to Poisson
            offset = max(offset, stage_start)
            if stage == 0:  # lanes start out of phase, so constant-rate lanes do not fire together
                offset += rng.expovariate(1.0 / gap) if poisson else rng.uniform(0, gap)
            while offset < until_s and _budget_left():
                intended = start + offset
                wait = intended - time.time()
                if wait > 0:
                    gevent.sleep(wait)
                # a full pool blocks here: the following sends go late, and their lateness is measured
                pool.spawn(chat.call, self.environment, intended, stage)
                offset += rng.expovariate(1.0 / gap) if poisson else gap
            stage_start = until_s
        pool.join(timeout=spec["timeout_s"] + 5)
        raise StopUser()


class RunShape(LoadTestShape):
    """Closed profiles: the stages' user counts. Open ones: one user per lane until the schedule drains."""

    stages: ClassVar[list[tuple[float, int, float]]] = []
    lanes: ClassVar[int] = 0
    deadline_s: ClassVar[float] = 0.0
    _lanes_seen: ClassVar[bool] = False

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        if self.lanes:
            # The tick stays constant: Locust calls start() whenever it changes, and a changed count would
            # stop a lane gracefully (it finishes its whole schedule) while spawning a new one, so a
            # momentarily stale count from a busy worker once ran three lanes' worth of load for two.
            count = self.get_current_user_count()
            RunShape._lanes_seen = self._lanes_seen or count >= self.lanes
            if elapsed > self.deadline_s or (self._lanes_seen and count == 0):
                return None
            return self.lanes, float(self.lanes)
        for until_s, users, spawn_rate in self.stages:
            if elapsed < until_s:
                return users, spawn_rate
        return None
