"""Property tests of the Langfuse stand-in's public API: any body, any query, any OTLP payload.

Whatever arrives, the stand-in answers below 500 within its timeout, with a JSON error object as
Langfuse's (`message` and/or `error`), and a 207 ingestion answer that accounts for every event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.standins.langfuse.server import create_app
from harness.standins.langfuse.store import Store
from tests.conftest import serve_in_thread
from tests.specs.strategies import examples, json_values

AUTH = ("pk-lf-prop", "sk-lf-prop")
EXAMPLES = examples(60)
_ANY = json_values(max_leaves=12)
_EVENT = st.fixed_dictionaries({"id": st.text(max_size=5) | _ANY, "type": st.sampled_from(
    ["trace-create", "span-create", "generation-update", "score-create", "bogus"]) | _ANY,
    "timestamp": st.sampled_from(["2026-12-05T01:02:03Z", "2026-12-05T01:02:03", "x"]) | _ANY,
    "body": st.dictionaries(st.sampled_from(["id", "traceId", "name", "startTime", "usage", "usageDetails",
                                             "tags", "level", "value", "metadata"]), _ANY)})
_QUERY = st.dictionaries(st.sampled_from(["page", "limit", "cursor", "orderBy", "fromTimestamp", "toTimestamp",
                                          "traceId", "name", "userId", "type"]),
                         st.text(max_size=10) | st.integers(-5, 2000).map(str), max_size=4)


@pytest.fixture(scope="module")
def langfuse() -> Iterator[str]:
    yield serve_in_thread(create_app(Store(), *AUTH))


def _well_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and ("message" in body or "error" in body), body


def test_any_ingestion_batch_is_answered_per_event(langfuse: str) -> None:
    @EXAMPLES
    @given(body=st.fixed_dictionaries({"batch": st.lists(_EVENT, max_size=4)}) | _ANY)
    def holds(body: Any) -> None:
        response = httpx.post(f"{langfuse}/api/public/ingestion", json=body, auth=AUTH, timeout=5)
        _well_answered(response)
        if response.status_code == 207:
            answer = response.json()
            assert len(answer["successes"]) + len(answer["errors"]) == len(body["batch"])

    holds()


def test_any_query_of_the_read_routes_is_answered(langfuse: str) -> None:
    @EXAMPLES
    @given(route=st.sampled_from(["traces", "observations", "v2/observations", "models", "traces/x",
                                  "observations/x"]), query=_QUERY)
    def holds(route: str, query: dict[str, str]) -> None:
        _well_answered(httpx.get(f"{langfuse}/api/public/{route}", params=query, auth=AUTH, timeout=5))

    holds()


def test_any_model_definition_or_otlp_payload_is_answered(langfuse: str) -> None:
    @EXAMPLES
    @given(model=st.fixed_dictionaries({}, optional={"modelName": _ANY, "matchPattern": st.text(max_size=8) | _ANY,
                                                     "unit": _ANY, "inputPrice": _ANY}) | _ANY,
           payload=st.binary(max_size=64), kind=st.sampled_from(["application/x-protobuf", "application/json"]))
    def holds(model: Any, payload: bytes, kind: str) -> None:
        _well_answered(httpx.post(f"{langfuse}/api/public/models", json=model, auth=AUTH, timeout=5))
        _well_answered(httpx.post(f"{langfuse}/api/public/otel/v1/traces", content=payload, auth=AUTH, timeout=5,
                                  headers={"content-type": kind}))

    holds()
