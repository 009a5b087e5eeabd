"""The stand-in's OTLP endpoint maps spans as Langfuse's OTel processor does: a root span writes the
trace, `langfuse.*` attributes win over OpenInference and GenAI ones, usage and costs land on the
generation, a generation without a cost is priced by a model definition; bad input is refused."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from harness._http import App
from harness.langfuse import LangfuseClient
from harness.standins.langfuse.server import create_app
from harness.standins.langfuse.store import Store

AUTH = ("pk-lf-otel", "sk-lf-otel")
PATH = "/api/public/otel/v1/traces"


@pytest.fixture
def langfuse(serve_app: Callable[[App], str]) -> str:
    return serve_app(create_app(Store(), *AUTH))


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _span(trace_id: bytes, span_id: bytes, name: str, attributes: dict[str, Any], parent: bytes = b"",
          error: bool = False) -> Span:
    now = time.time_ns()
    return Span(trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=name,
                start_time_unix_nano=now - 1_500_000_000, end_time_unix_nano=now,
                attributes=[KeyValue(key=k, value=_value(v)) for k, v in attributes.items()],
                status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_OK, message="boom"
                              if error else ""))


def _request(*spans: Span) -> bytes:
    resource = ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])
    resource.resource.attributes.append(KeyValue(key="service.name", value=_value("litellm")))
    return ExportTraceServiceRequest(resource_spans=[resource]).SerializeToString()


# what LiteLLM 1.103's `langfuse_otel` callback sends for one call (names and types as captured)
LITELLM_ROOT = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4-turbo", "llm.provider": "openai",
                "llm.invocation_parameters": json.dumps({"stream": False}), "llm.token_count.prompt": 9,
                "llm.token_count.completion": 24, "llm.token_count.total": 33, "llm.cost.total": 0.00081,
                "user.id": "default_user_id", "session.id": "sess-1", "langfuse.observation.type": "generation",
                "langfuse.observation.input": json.dumps([{"role": "user", "content": "hi"}]),
                "langfuse.observation.output": json.dumps({"role": "assistant", "content": "hello"})}


def _post(url: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(f"{url}{PATH}", content=body, auth=AUTH,
                      headers={"Content-Type": "application/x-protobuf", **headers})


def test_litellms_spans_become_a_trace_with_a_generation(langfuse: str) -> None:
    trace_id, root, child = os.urandom(16), os.urandom(8), os.urandom(8)
    response = _post(langfuse, _request(_span(trace_id, root, "litellm_request", LITELLM_ROOT),
                                        _span(trace_id, child, "raw_gen_ai_request", {"llm.openai.model": "x"},
                                              parent=root)), **{"x-langfuse-ingestion-version": "4"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-protobuf"
    ExportTraceServiceResponse().ParseFromString(response.content)  # an OTLP answer, not JSON
    client = LangfuseClient(langfuse, *AUTH)
    trace = client.trace(trace_id.hex())
    assert trace is not None and trace["sessionId"] == "sess-1" and trace["userId"] == "default_user_id"
    assert trace["name"] == "litellm_request" and trace["input"] == [{"role": "user", "content": "hi"}]
    by_name = {o["name"]: o for o in trace["observations"]}
    generation = by_name["litellm_request"]
    assert generation["type"] == "GENERATION" and generation["model"] == "gpt-4-turbo"
    assert generation["usage"] == {"unit": "TOKENS", "input": 9, "output": 24, "total": 33}
    assert generation["output"] == {"role": "assistant", "content": "hello"}
    assert generation["modelParameters"] == {"stream": False}
    # llm.cost.total is not one of the attributes Langfuse reads a cost from: without a model
    # definition the generation is unpriced, as in Langfuse
    assert generation["calculatedTotalCost"] is None and trace["totalCost"] == 0
    assert by_name["raw_gen_ai_request"]["type"] == "SPAN"
    assert by_name["raw_gen_ai_request"]["parentObservationId"] == root.hex()
    assert 1.4 < generation["latency"] < 1.6
    client.close()


def test_a_model_definition_prices_the_generation(langfuse: str) -> None:
    client = LangfuseClient(langfuse, *AUTH)
    client.create_model("gpt-4-turbo", r"(?i)^(openai/)?gpt-4-turbo$", 1e-5, 3e-5)
    trace_id = os.urandom(16)
    assert _post(langfuse, _request(_span(trace_id, os.urandom(8), "litellm_request", LITELLM_ROOT))).status_code \
        == 200
    trace = client.trace(trace_id.hex())
    assert trace is not None and trace["totalCost"] == pytest.approx(9 * 1e-5 + 24 * 3e-5)
    assert trace["observations"][0]["calculatedInputCost"] == pytest.approx(9e-5)
    client.close()


def test_langfuse_attributes_win_and_gen_ai_usage_and_cost_are_read(langfuse: str) -> None:
    trace_id, root = os.urandom(16), os.urandom(8)
    attributes = {"langfuse.observation.model.name": "claude-3-sonnet", "gen_ai.request.model": "other",
                  "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 7, "gen_ai.usage.cost": 0.25,
                  "langfuse.trace.name": "named", "langfuse.session.id": "s-2", "langfuse.trace.tags": '["a", "b"]',
                  "langfuse.observation.level": "WARNING"}
    body = _request(_span(trace_id, root, "call", attributes, parent=os.urandom(8)))  # a parent we never send
    assert _post(langfuse, gzip.compress(body), **{"Content-Encoding": "gzip"}).status_code == 200
    trace = httpx.get(f"{langfuse}/api/public/traces/{trace_id.hex()}", auth=AUTH).json()
    assert (trace["name"], trace["sessionId"], trace["tags"]) == ("named", "s-2", ["a", "b"])
    (observation,) = trace["observations"]
    assert observation["model"] == "claude-3-sonnet" and observation["level"] == "WARNING"
    assert (observation["usage"]["input"], observation["usage"]["output"]) == (5, 7)
    assert observation["calculatedTotalCost"] == 0.25


def test_an_error_span_is_an_error_observation_and_json_export_works(langfuse: str) -> None:
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": trace_id, "spanId": span_id, "name": "failed", "startTimeUnixNano": str(time.time_ns() - 10**9),
        "endTimeUnixNano": str(time.time_ns()), "status": {"code": 2, "message": "upstream 500"},
        "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4"}},
                       {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "3"}}]}]}]}]}
    response = httpx.post(f"{langfuse}{PATH}", json=body, auth=AUTH)
    assert response.status_code == 200 and response.json() == {}
    (observation,) = httpx.get(f"{langfuse}/api/public/traces/{trace_id}", auth=AUTH).json()["observations"]
    assert observation["type"] == "GENERATION" and observation["level"] == "ERROR"
    assert observation["statusMessage"] == "upstream 500" and observation["usage"]["input"] == 3


@pytest.mark.parametrize(("body", "headers", "status"), [
    (b"\x0a\xff\xff", {}, 400),  # truncated protobuf
    (b"", {"x-langfuse-ingestion-version": "5"}, 400),  # a future ingestion version
    (b"", {"Authorization": "Basic d3Jvbmc6a2V5"}, 401),
])
def test_bad_exports_are_refused(langfuse: str, body: bytes, headers: dict[str, str], status: int) -> None:
    auth = None if "Authorization" in headers else AUTH
    response = httpx.post(f"{langfuse}{PATH}", content=body, auth=auth,
                          headers={"Content-Type": "application/x-protobuf", **headers})
    assert response.status_code == status
