"""The official Langfuse Python SDKs, unchanged, against the stand-in: the 2.x line LiteLLM's `langfuse`
callback uses (run with the gateway's own Python, where it is installed) and the current OTLP-based one.

Both parse every answer into their Fern-generated models (compiled from the same API definition as
Langfuse's OpenAPI document): a required field the stand-in drops, or a wrong type, fails them.
The request side: the stand-in accepts exactly the ingestion events the 2.x SDK's `IngestionEvent`
model accepts, over a seeded set of valid events and their mutations.
"""

from __future__ import annotations

import json
import random
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from langfuse import Langfuse
from langfuse.api.commons.types.observation_v2 import ObservationV2

from harness._http import App
from harness.providers.wiring import find_litellm
from harness.standins.langfuse.server import create_app
from harness.standins.langfuse.store import Store

PROBE = Path(__file__).with_name("sdk_v2_probe.py")


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def auth() -> tuple[str, str]:
    # a public key per test: the current SDK keeps one client per public key for the process's life
    return f"pk-lf-{uuid.uuid4().hex[:8]}", "sk-lf-sdk"


@pytest.fixture
def langfuse(serve_app: Callable[[App], str], store: Store, auth: tuple[str, str]) -> str:
    return serve_app(create_app(store, *auth))


def gateway_python() -> Path:
    return find_litellm().parent / "python"


def probe(url: str, auth: tuple[str, str], *extra: str) -> dict[str, Any]:
    done = subprocess.run([str(gateway_python()), str(PROBE), url, *auth, *extra], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"the 2.x SDK failed against the stand-in:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_2x_sdk_writes_and_reads_every_v1_route(langfuse: str, auth: tuple[str, str]) -> None:
    seen = probe(langfuse, auth)
    assert seen["sdk"].startswith("2.")
    assert seen["health"] == "OK" and seen["projects"]
    assert seen["trace"]["observations"] == 3 and seen["trace"]["html_path"]
    assert seen["traces_listed"] == [seen["trace"]["id"]]
    assert seen["observations"] == ["EVENT", "GENERATION", "SPAN"]
    assert seen["generation"] == {"model": "gpt-4o", "input_tokens": 12, "output_tokens": 30}
    assert len(seen["models"]) == 1


def test_the_current_sdk_exports_spans_and_reads_them_back(langfuse: str, auth: tuple[str, str]) -> None:
    client = Langfuse(public_key=auth[0], secret_key=auth[1], base_url=langfuse, flush_at=1, tracing_enabled=True)
    try:
        with client.start_as_current_observation(as_type="span", name="agent-turn", input="hi") as root, \
                client.start_as_current_observation(as_type="generation", name="llm", model="gpt-4o") as generation:
            generation.update(input=[{"role": "user", "content": "hi"}], output="hello",
                              usage_details={"input": 12, "output": 30})
        client.flush()
        page = client.api.observations.get_many(trace_id=root.trace_id, fields="core,basic,usage,model,io")
        assert client.api.health.health().status == "OK"
        created = client.api.models.create(model_name="sdk-model", match_pattern="(?i)^sdk-model$", unit="TOKENS",
                                           input_price=0.000001, output_price=0.000002)
        models = client.api.models.list()
        assert [m.id for m in models.data] == [created.id]
        client.api.models.delete(created.id)
        assert client.api.models.list().data == []
    finally:
        client.shutdown()
    by_name = {o.name: o for o in page.data}
    assert set(by_name) == {"agent-turn", "llm"}, by_name
    llm = by_name["llm"]
    assert isinstance(llm, ObservationV2) and llm.type == "GENERATION" and llm.model == "gpt-4o"
    assert llm.usage_details == {"input": 12, "output": 30, "total": 42}
    assert llm.parent_observation_id == by_name["agent-turn"].id and by_name["agent-turn"].is_root_observation


# which SDK call reaches each route the stand-in serves (a new route without one fails the test below)
SDK_CALLS = {
    ("GET", "/api/public/health"): "health.health() in both",
    ("GET", "/api/public/projects"): "2.x projects.get()",
    ("POST", "/api/public/ingestion"): "2.x trace/generation/span/event, flush",
    ("POST", "/api/public/otel/v1/traces"): "current SDK's span exporter",
    ("POST", "/api/public/models"): "models.create() in both",
    ("GET", "/api/public/models"): "models.list() in both",
    ("DELETE", "/api/public/models/{model_id}"): "current models.delete()",
    ("GET", "/api/public/traces"): "2.x fetch_traces()",
    ("GET", "/api/public/traces/{trace_id}"): "2.x fetch_trace()",
    ("GET", "/api/public/observations"): "2.x fetch_observations()",
    ("GET", "/api/public/v2/observations"): "current observations.get_many()",
    ("GET", "/api/public/observations/{observation_id}"): "2.x fetch_observation()",
}
OPS_ROUTES = {("GET", "/api/public/ready"), ("GET", "/_standin/stats")}  # a probe and the stand-in's own counters


def test_every_route_is_reached_by_an_official_sdk(store: Store) -> None:
    served = set(create_app(store, "pk", "sk").routes()) - OPS_ROUTES
    assert served == set(SDK_CALLS), f"routes without an SDK call: {served - set(SDK_CALLS)}"


def test_v2_observations_page_by_cursor(langfuse: str, auth: tuple[str, str]) -> None:
    batch = [_event("trace-create", {"id": "t-page", "name": "paged"})]
    batch += [_event("span-create", {"id": f"s-{i}", "traceId": "t-page", "name": f"step-{i}",
                                     "startTime": _now()}) for i in range(5)]
    assert httpx.post(f"{langfuse}/api/public/ingestion", json={"batch": batch}, auth=auth).status_code == 207
    seen, cursor = [], None
    for _ in range(5):
        params = {"traceId": "t-page", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{langfuse}/api/public/v2/observations", params=params, auth=auth).json()
        seen += [o["id"] for o in page["data"]]
        cursor = page["meta"]["cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"s-{i}" for i in range(5)]


def test_a_stand_in_that_drops_a_required_field_fails_both_sdks(langfuse: str, store: Store, auth: tuple[str, str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: observations without `startTime` (required in both SDKs' models)."""
    real = store.observation_view

    def without_start(obs: dict[str, Any]) -> dict[str, Any]:
        view = real(obs)
        view.pop("startTime", None)
        return view

    monkeypatch.setattr(store, "observation_view", without_start)
    with pytest.raises(AssertionError, match=r"2\.x SDK failed"):
        probe(langfuse, auth)
    client = Langfuse(public_key=auth[0], secret_key=auth[1], base_url=langfuse, flush_at=1, tracing_enabled=True)
    try:
        with client.start_as_current_observation(as_type="span", name="turn") as root:
            pass
        client.flush()
        with pytest.raises(Exception, match=r"start_?[tT]ime"):
            client.api.observations.get_many(trace_id=root.trace_id)
    finally:
        client.shutdown()


def test_the_stand_in_accepts_no_event_the_sdk_model_refuses(langfuse: str, auth: tuple[str, str],
                                                              tmp_path: Path) -> None:
    """Everything the stand-in stores is valid for the published model. It may refuse more: the server's zod
    schemas refuse what the 2.x SDK's pydantic v1 models coerce (a number for a string id, `[]` for a body,
    a missing `type` filled from a default), and the stand-in follows the server."""
    events = _events(random.Random(22), 240)
    answer = httpx.post(f"{langfuse}/api/public/ingestion", json={"batch": events}, auth=auth).json()
    refused = {e["id"] for e in answer["errors"]}
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    theirs = probe(langfuse, auth, str(path))["accepted"]
    stored_but_invalid = [e for e, ok in zip(events, theirs, strict=True) if not ok and e["id"] not in refused]
    assert not stored_but_invalid, f"the stand-in accepts events the SDK's model refuses: {stored_but_invalid[:3]}"
    assert 40 < len(refused) < len(events) - 40  # both kinds were tried
    assert sum(not ok for ok in theirs) > 20


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _event(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": kind, "timestamp": _now(), "body": body}


_VALID = [
    ("trace-create", {"id": "t", "name": "n", "userId": "u", "sessionId": "s", "tags": ["a"], "input": "x"}),
    ("span-create", {"id": "s", "traceId": "t", "name": "n", "startTime": "2026-12-05T01:02:03Z"}),
    ("span-update", {"id": "s", "traceId": "t", "endTime": "2026-12-05T01:02:04.5+00:00"}),
    ("generation-create", {"id": "g", "traceId": "t", "model": "gpt-4o", "usage": {"input": 1, "output": 2},
                           "startTime": "2026-12-05T01:02:03Z", "completionStartTime": "2026-12-05T01:02:03Z"}),
    ("generation-update", {"id": "g", "traceId": "t", "level": "ERROR", "statusMessage": "boom"}),
    ("event-create", {"id": "e", "traceId": "t", "name": "n", "level": "WARNING"}),
    ("score-create", {"id": "sc", "traceId": "t", "name": "quality", "value": 0.5}),
]
_BAD_VALUES: list[Any] = [None, 7, "", "not-a-time", [], {}, "DEBUGGING", True]


def _events(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Valid events, and the same with one field of the envelope or the body dropped or set to a bad value."""
    out = []
    for n in range(count):
        kind, body = rng.choice(_VALID)
        event = {"id": f"ev-{n}", "type": kind, "timestamp": _now(), "body": dict(body)}
        roll = rng.random()
        if roll < 0.3:
            out.append(event)
            continue
        target = event if roll < 0.55 else event["body"]
        key = rng.choice([k for k in target if k != "id" or target is not event])
        if rng.random() < 0.4:
            del target[key]
        else:
            target[key] = rng.choice(_BAD_VALUES)
        out.append(event)
    return out
