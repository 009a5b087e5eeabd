"""OTLP/HTTP trace exports turned into Langfuse ingestion events, the way Langfuse's OTel endpoint does.

`POST /api/public/otel/v1/traces` takes an `ExportTraceServiceRequest` (protobuf or JSON, gzip or
not). Each span becomes an observation; a root span, or one carrying trace attributes, also writes
the trace. Attribute precedence follows Langfuse's processor: `langfuse.*` first, then OpenInference
(`llm.*`, what LiteLLM's `langfuse_otel` callback sends) and the GenAI conventions (`gen_ai.*`).
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = ["OtlpError", "decode", "encode_response", "to_events"]

_TRACE_KEYS = ("langfuse.trace.name", "langfuse.trace.input", "langfuse.trace.output", "langfuse.trace.metadata",
               "user.id", "session.id", "langfuse.trace.public", "langfuse.trace.tags", "langfuse.user.id",
               "langfuse.session.id")
_MODEL_KEYS = ("langfuse.observation.model.name", "gen_ai.request.model", "gen_ai.response.model", "llm.model_name",
               "model")
_OPENINFERENCE = {"CHAIN": "chain", "RETRIEVER": "retriever", "LLM": "generation", "EMBEDDING": "embedding",
                  "AGENT": "agent", "TOOL": "tool", "GUARDRAIL": "guardrail", "EVALUATOR": "evaluator"}
_TYPES = {"span", "generation", "event", "agent", "tool", "chain", "retriever", "evaluator", "embedding", "guardrail"}
_USAGE_NAMES = {"prompt_tokens": "input", "completion_tokens": "output", "total_tokens": "total",
                "input_tokens": "input", "output_tokens": "output", "prompt": "input", "completion": "output"}
_STATUS_ERROR = 2


class OtlpError(ValueError):
    """A body that is not an ExportTraceServiceRequest (Langfuse answers 400)."""


def decode(body: bytes, content_type: str, content_encoding: str = "") -> list[dict[str, Any]]:
    """The request's resource spans as OTLP/JSON-shaped dicts, with trace and span ids in hex."""
    if "gzip" in content_encoding.lower():
        try:
            body = gzip.decompress(body)
        except OSError as exc:
            raise OtlpError(f"gzip body: {exc}") from None
    if "protobuf" in content_type:
        message = ExportTraceServiceRequest()
        try:
            message.ParseFromString(body)
        except Exception as exc:  # protobuf's DecodeError, whose import path moves between versions
            raise OtlpError(f"not an ExportTraceServiceRequest: {exc}") from None
        data = MessageToDict(message)
        _ids_to_hex(data)  # the proto3 JSON mapping writes bytes as base64; OTLP/JSON wants hex
        return list(data.get("resourceSpans", []))
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise OtlpError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("resourceSpans", []), list):
        raise OtlpError("resourceSpans: array required")
    return list(data.get("resourceSpans", []))


def encode_response(protobuf: bool) -> tuple[bytes, str]:
    """An empty ExportTraceServiceResponse (full success) in the request's encoding."""
    if protobuf:
        return ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf"
    return b"{}", "application/json"


def _ids_to_hex(data: dict[str, Any]) -> None:
    for resource in data.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64decode(span[key]).hex()


def _value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return int(value["intValue"])  # int64 travels as a string in OTLP/JSON
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values", []))
    return None


def _attributes(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value") or {}) for item in items or [] if "key" in item}


def _iso(nanos: Any) -> str:
    stamp = datetime.fromtimestamp(int(nanos or 0) / 1e9, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((attributes[k] for k in keys if attributes.get(k) not in (None, "")), None)


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _parsed(value: Any) -> Any:
    """Langfuse keeps a JSON-encoded input or output as the structure it encodes."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _observation_type(attributes: dict[str, Any]) -> str:
    explicit = str(attributes.get("langfuse.observation.type") or "").lower()
    if explicit in _TYPES:
        return explicit
    kind = _OPENINFERENCE.get(str(attributes.get("openinference.span.kind") or ""))
    if kind:
        return kind
    return "generation" if _first(attributes, _MODEL_KEYS) is not None else "span"


def _details(attributes: dict[str, Any], key: str) -> dict[str, float]:
    """A `langfuse.observation.*_details` attribute (a JSON object of numbers, as the Langfuse SDK writes it)."""
    parsed = _parsed(attributes.get(key))
    if not isinstance(parsed, dict):
        return {}
    return {str(k): v for k, v in parsed.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _usage(attributes: dict[str, Any]) -> dict[str, float]:
    usage: dict[str, float] = {}
    explicit = _details(attributes, "langfuse.observation.usage_details")
    if explicit:  # the Langfuse SDK's own attribute wins, as in Langfuse's processor
        return {**explicit, "total": explicit.get("total", sum(explicit.values()))}
    for key, value in attributes.items():
        if (key.startswith("gen_ai.usage.") and key != "gen_ai.usage.cost") or key.startswith("llm.token_count."):
            name = key.removeprefix("gen_ai.usage.").removeprefix("llm.token_count.")
            try:
                usage[_USAGE_NAMES.get(name, name)] = float(value)
            except (TypeError, ValueError):
                continue
    return {k: int(v) if v.is_integer() else v for k, v in usage.items()}


def _input_output(attributes: dict[str, Any], prefix: str) -> dict[str, Any]:
    found = {"input": attributes.get(f"{prefix}.input"), "output": attributes.get(f"{prefix}.output")}
    if found["input"] is None and found["output"] is None and prefix == "langfuse.observation":
        found = {"input": attributes.get("input.value"), "output": attributes.get("output.value")}
    return {k: _parsed(v) for k, v in found.items() if v is not None}


def _metadata(attributes: dict[str, Any], domain: str) -> dict[str, Any]:
    prefix = f"langfuse.{domain}.metadata"
    top = _parsed(attributes.get(prefix) or attributes.get("langfuse.metadata"))
    nested = {k.removeprefix(f"{p}."): v for k, v in attributes.items()
              for p in (prefix, "langfuse.metadata") if k.startswith(f"{p}.")}
    return {**(top if isinstance(top, dict) else {}), **nested}


def _environment(attributes: dict[str, Any], resource: dict[str, Any]) -> str:
    for key in ("langfuse.environment", "deployment.environment.name", "deployment.environment"):
        if resource.get(key):
            return str(resource[key])
        if attributes.get(key):
            return str(attributes[key])
    return "default"


def to_events(resource_spans: list[dict[str, Any]], seen_traces: set[str]) -> list[dict[str, Any]]:
    """Ingestion events (trace-create, `<type>-create`) for every span; `seen_traces` is updated."""
    events: list[dict[str, Any]] = []
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for resource_span in resource_spans:
        resource = _attributes((resource_span.get("resource") or {}).get("attributes"))
        for scope_span in resource_span.get("scopeSpans", []):
            scope = scope_span.get("scope") or {}
            for span in scope_span.get("spans", []):
                events += _span_events(span, resource, scope, seen_traces, now)
    return events


def _span_events(span: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any], seen_traces: set[str],
                 now: str) -> list[dict[str, Any]]:
    attributes = _attributes(span.get("attributes"))
    trace_id, parent = str(span.get("traceId") or ""), span.get("parentSpanId") or None
    if not trace_id or not span.get("spanId"):
        raise OtlpError("a span without traceId or spanId")
    start, end = _iso(span.get("startTimeUnixNano")), _iso(span.get("endTimeUnixNano"))
    environment = _environment(attributes, resource)
    root = parent is None or str(attributes.get("langfuse.internal.as_root")) == "true"
    updates = any(attributes.get(k) for k in _TRACE_KEYS) or any(k.startswith("langfuse.trace.metadata")
                                                                  for k in attributes)
    events = []
    if root or updates or trace_id not in seen_traces:
        trace: dict[str, Any] = {"id": trace_id, "timestamp": start, "environment": environment}
        if root or updates:
            tags = attributes.get("langfuse.trace.tags")
            trace.update({
                "name": attributes.get("langfuse.trace.name") or (span.get("name") if root else None),
                "userId": _text(_first(attributes, ("langfuse.user.id", "user.id"))),
                "sessionId": _text(_first(attributes, ("langfuse.session.id", "session.id", "gen_ai.conversation.id"))),
                "tags": _parsed(tags) if tags is not None else None,
                "metadata": {**_metadata(attributes, "trace"), "resourceAttributes": resource,
                             "scope": {k: v for k, v in scope.items() if k != "attributes"}},
                **_input_output(attributes, "langfuse.trace"),
            })
            if root and "input" not in trace:
                trace.update(_input_output(attributes, "langfuse.observation"))
        events.append({"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": start,
                       "body": {k: v for k, v in trace.items() if v is not None}})
        seen_traces.add(trace_id)
    status = span.get("status") or {}
    code = status.get("code")
    error = code in (_STATUS_ERROR, "STATUS_CODE_ERROR")
    cost = attributes.get("gen_ai.usage.cost")
    costs = _details(attributes, "langfuse.observation.cost_details") or ({"total": float(cost)} if cost else {})
    observation = {
        "id": span["spanId"], "traceId": trace_id, "parentObservationId": parent, "name": span.get("name"),
        "startTime": start, "endTime": end, "environment": environment,
        "completionStartTime": _parsed(attributes.get("langfuse.observation.completion_start_time")),
        "metadata": {**_metadata(attributes, "observation"),
                     "attributes": {k: _text(v) for k, v in attributes.items()}, "resourceAttributes": resource},
        "level": attributes.get("langfuse.observation.level") or ("ERROR" if error else "DEFAULT"),
        "statusMessage": attributes.get("langfuse.observation.status_message") or status.get("message") or None,
        "model": _text(_first(attributes, _MODEL_KEYS)),
        "modelParameters": _parsed(attributes.get("langfuse.observation.model.parameters")
                                   or attributes.get("llm.invocation_parameters")),
        "usageDetails": _usage(attributes),
        "costDetails": costs,
        **_input_output(attributes, "langfuse.observation"),
    }
    if not isinstance(observation["modelParameters"], dict):
        observation["modelParameters"] = None
    events.append({"id": str(uuid.uuid4()), "type": f"{_observation_type(attributes)}-create", "timestamp": now,
                   "body": {k: v for k, v in observation.items() if v is not None}})
    return events
