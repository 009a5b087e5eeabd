"""The Langfuse stand-in answers as a v3 server does: 207 ingestion, dedup, upserts, read endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from harness._http import App
from harness.langfuse import LangfuseClient
from harness.standins.langfuse.server import create_app
from harness.standins.langfuse.store import Store

AUTH = ("pk-lf-test", "sk-lf-test")


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def langfuse(serve_app: Callable[[App], str], store: Store) -> str:
    return serve_app(create_app(store, *AUTH))


def _ts(offset_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat().replace("+00:00", "Z")


def _batch(trace_id: str, cost: float = 0.002) -> list[dict]:
    return [
        {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": _ts(),
         "body": {"id": trace_id, "name": "litellm-acompletion", "sessionId": "s-1", "tags": ["a"]}},
        {"id": str(uuid.uuid4()), "type": "generation-create", "timestamp": _ts(),
         "body": {"id": f"gen-{trace_id}", "traceId": trace_id, "model": "openai/gpt-4-turbo",
                  "startTime": _ts(-1.5), "endTime": _ts(), "completionStartTime": _ts(-1.0),
                  "usage": {"input": 12, "output": 30, "unit": "TOKENS", "totalCost": cost}}},
    ]


def test_ingestion_answers_207_and_the_trace_reads_back_with_v2_sdk_fields(langfuse: str) -> None:
    response = httpx.post(f"{langfuse}/api/public/ingestion", json={"batch": _batch("t-1")}, auth=AUTH)
    assert response.status_code == 207
    assert len(response.json()["successes"]) == 2 and response.json()["errors"] == []
    trace = httpx.get(f"{langfuse}/api/public/traces/t-1", auth=AUTH).json()
    for field in ("htmlPath", "latency", "totalCost", "observations", "scores"):
        assert trace[field] is not None, field
    assert trace["totalCost"] == pytest.approx(0.002)
    assert trace["latency"] == pytest.approx(1.5, abs=0.05)
    generation = trace["observations"][0]
    assert generation["usage"] == {"unit": "TOKENS", "input": 12, "output": 30, "total": 42}
    assert generation["timeToFirstToken"] == pytest.approx(0.5, abs=0.05)


def test_a_resent_batch_is_acknowledged_but_stored_once(langfuse: str, store: Store) -> None:
    batch = _batch("t-2")
    for _ in range(3):
        assert httpx.post(f"{langfuse}/api/public/ingestion", json={"batch": batch}, auth=AUTH).status_code == 207
    assert store.stats["duplicates"] == 4
    listed = httpx.get(f"{langfuse}/api/public/traces", auth=AUTH).json()
    assert listed["meta"]["totalItems"] == 1 and listed["data"][0]["observations"] == ["gen-t-2"]


def test_invalid_events_are_per_event_errors_and_valid_ones_still_land(langfuse: str) -> None:
    bad = {"id": "e-bad", "type": "trace-create", "timestamp": "2026-01-01T00:00:00", "body": {"id": "x"}}
    response = httpx.post(f"{langfuse}/api/public/ingestion", json={"batch": [bad, *_batch("t-3")]}, auth=AUTH)
    body = response.json()
    assert response.status_code == 207
    assert [e["id"] for e in body["errors"]] == ["e-bad"] and "timezone" in body["errors"][0]["error"]
    assert len(body["successes"]) == 2


def test_updates_merge_like_langfuse(langfuse: str) -> None:
    first = [{"id": "u1", "type": "trace-create", "timestamp": _ts(), "body": {"id": "t-4", "tags": ["b"],
                                                                                "metadata": {"x": 1}}}]
    second = [{"id": "u2", "type": "trace-create", "timestamp": _ts(), "body": {"id": "t-4", "tags": ["a"],
                                                                                 "metadata": {"y": 2}, "name": "n"}}]
    for batch in (first, second):
        httpx.post(f"{langfuse}/api/public/ingestion", json={"batch": batch}, auth=AUTH)
    trace = httpx.get(f"{langfuse}/api/public/traces/t-4", auth=AUTH).json()
    assert trace["tags"] == ["a", "b"] and trace["metadata"] == {"x": 1, "y": 2} and trace["name"] == "n"


def test_auth_envelope_and_paging_errors(langfuse: str) -> None:
    assert httpx.get(f"{langfuse}/api/public/traces", auth=("pk", "wrong")).status_code == 401
    assert httpx.get(f"{langfuse}/api/public/traces").json()["error"] == "UnauthorizedError"
    assert httpx.post(f"{langfuse}/api/public/ingestion", json={"nobatch": 1}, auth=AUTH).status_code == 400
    assert httpx.get(f"{langfuse}/api/public/traces", params={"limit": 101}, auth=AUTH).status_code == 400
    assert httpx.get(f"{langfuse}/api/public/traces/nope", auth=AUTH).status_code == 404
    assert httpx.get(f"{langfuse}/api/public/health").json()["status"] == "OK"


def test_client_waits_and_reports_the_time_or_times_out(langfuse: str) -> None:
    client = LangfuseClient(langfuse, *AUTH)
    missing = client.wait_for_trace("never", deadline_s=0.5, poll_s=0.1)
    assert missing.trace is None and missing.seconds >= 0.5 and missing.polls >= 3
    httpx.post(f"{langfuse}/api/public/ingestion", json={"batch": _batch("t-5")}, auth=AUTH)
    found = client.wait_for_trace("t-5", deadline_s=5)
    assert found.trace is not None and found.trace["id"] == "t-5" and found.polls == 1
    assert [t["id"] for t in client.traces(sessionId="s-1")] == ["t-5"]


def test_visibility_delay_mimics_the_v3_worker(serve_app: Callable[[App], str]) -> None:
    url = serve_app(create_app(Store(visibility_delay_s=0.6), *AUTH))
    httpx.post(f"{url}/api/public/ingestion", json={"batch": _batch("t-6")}, auth=AUTH)
    waited = LangfuseClient(url, *AUTH).wait_for_trace("t-6", deadline_s=5, poll_s=0.1)
    assert waited.trace is not None and waited.seconds >= 0.5 and waited.polls > 1
