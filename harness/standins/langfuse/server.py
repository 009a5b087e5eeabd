"""A Langfuse stand-in speaking the public API a v3 server speaks, for stacks where none can run.

It implements ingestion (207 multi-status, per-event validation, dedup by event id), the OTLP trace
endpoint newer LiteLLM callbacks export to (`langfuse_otel`), custom model definitions (which price
OTLP generations, as Langfuse does), and the read endpoints the checks use, with Basic auth,
pagination and error shapes as Langfuse sends them.
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any

from harness._http import App, Request, Response, json_response
from harness.standins.langfuse import otel
from harness.standins.langfuse.events import problem as event_problem
from harness.standins.langfuse.store import Store, parse_time

__all__ = ["VERSION", "create_app"]

VERSION = "3.225.4-standin"
_MAX_BODY = 4_500_000


def _unauthorized() -> Response:
    return json_response({"error": "UnauthorizedError",
                          "message": "Invalid credentials. Confirm that you've configured the correct host."}, 401)


def _page(request: Request) -> tuple[int, int] | Response:
    query = request.query
    try:
        page, limit = int(query.get("page", 1)), int(query.get("limit", 50))
    except ValueError:
        page, limit = 0, 0
    if page < 1 or not 1 <= limit <= 100:
        return json_response({"message": "Invalid request data", "error": [{"path": ["limit"],
                              "message": "page >= 1 and 1 <= limit <= 100"}]}, 400)
    return page, limit


def _paginate(items: list[dict[str, Any]], page: int, limit: int) -> dict[str, Any]:
    total = len(items)
    return {"data": items[(page - 1) * limit: page * limit],
            "meta": {"page": page, "limit": limit, "totalItems": total, "totalPages": math.ceil(total / limit)}}


def create_app(store: Store, public_key: str, secret_key: str) -> App:
    app = App()
    expected = "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == expected

    @app.route("GET", "/api/public/health")
    async def health(request: Request) -> Response:
        return json_response({"status": "OK", "version": VERSION})

    @app.route("GET", "/api/public/ready")
    async def ready(request: Request) -> Response:
        return json_response({"status": "OK"})

    @app.route("GET", "/api/public/projects")
    async def projects(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        return json_response({"data": [{"id": store.project_id, "name": "Harness",
                                        "organization": {"id": "harness-org", "name": "Harness"},
                                        "metadata": {}}]})

    @app.route("POST", "/api/public/ingestion")
    async def ingestion(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        if len(request.body) > _MAX_BODY:
            return json_response({"message": "Body exceeded 4.5mb limit"}, 413)
        try:
            envelope = request.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("batch"), list):
            return json_response({"message": "Invalid request data", "errors": ["batch: array required"]}, 400)
        store.stats["batches"] += 1
        successes, errors = [], []
        ordered = sorted(envelope["batch"], key=lambda e: (str(e.get("type", "")).endswith("-update"),
                                                           str(e.get("timestamp", ""))) if isinstance(e, dict)
                         else (False, ""))
        for event in ordered:
            problem = event_problem(event)
            ident = event.get("id", "unknown") if isinstance(event, dict) else "unknown"
            if problem:
                errors.append({"id": ident, "status": 400, "message": "Invalid request data", "error": problem})
                continue
            if event["type"] == "sdk-log":
                continue
            if event["type"] != "score-create":
                store.apply(event)
            successes.append({"id": ident, "status": 201})
        return json_response({"successes": successes, "errors": errors}, 207)

    @app.route("POST", "/api/public/otel/v1/traces")
    async def otlp_traces(request: Request) -> Response:
        protobuf = "protobuf" in request.headers.get("content-type", "")
        if not authorized(request):
            return _unauthorized()
        if len(request.body) > _MAX_BODY:
            return json_response({"error": "Body exceeded 4.5mb limit"}, 413)
        version = request.headers.get("x-langfuse-ingestion-version")
        if version is not None and (not version.isdigit() or int(version) > 4):
            return json_response({"error": f"Unsupported ingestion version: {version}"}, 400)
        try:
            spans = otel.decode(request.body, request.headers.get("content-type", ""),
                                request.headers.get("content-encoding", ""))
            events = otel.to_events(spans, store.otel_traces)
        except otel.OtlpError as exc:
            return json_response({"error": f"Invalid OTLP request: {exc}"}, 400)
        store.stats["batches"] += 1
        for event in events:
            problem = event_problem(event)
            if problem:  # our own mapping produced it: a stand-in bug, not the sender's
                return json_response({"error": f"stand-in mapping produced an invalid event: {problem}"}, 500)
            store.stats["otlp_spans"] += event["type"] != "trace-create"
            store.apply(event)
        body, content_type = otel.encode_response(protobuf)
        return Response(200, body, {}, content_type)

    @app.route("POST", "/api/public/models")
    async def create_model(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("modelName") or not body.get("matchPattern"):
            return json_response({"message": "Invalid request data",
                                  "error": ["modelName and matchPattern are required"]}, 400)
        try:
            return json_response(store.add_model(body))
        except re.error as exc:
            return json_response({"message": "Invalid request data", "error": [f"matchPattern: {exc}"]}, 400)

    @app.route("GET", "/api/public/models")
    async def models(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        paging = _page(request)
        if isinstance(paging, Response):
            return paging
        return json_response(_paginate(list(store.models), *paging))

    @app.route("DELETE", "/api/public/models/{model_id}")
    async def delete_model(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        found = next((m for m in store.models if m["id"] == request.params["model_id"]), None)
        if found is None:
            return json_response({"message": "Model not found", "error": "LangfuseNotFoundError"}, 404)
        store.models.remove(found)
        return json_response({"message": "Model successfully deleted"})

    @app.route("GET", "/api/public/traces")
    async def traces(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        paging = _page(request)
        if isinstance(paging, Response):
            return paging
        query = request.query
        start, end = parse_time(query.get("fromTimestamp")), parse_time(query.get("toTimestamp"))
        items = []
        for trace in store.traces.values():
            if not store.visible(trace):
                continue
            if any(query.get(k) and trace.get(k) != query[k] for k in ("userId", "name", "sessionId", "release",
                                                                         "version")):
                continue
            stamp = parse_time(trace["timestamp"])
            if (start and stamp and stamp < start) or (end and stamp and stamp >= end):
                continue
            items.append(store.trace_view(trace, full=False))
        field, _, direction = (query.get("orderBy") or "timestamp.desc").partition(".")
        items.sort(key=lambda t: str(t.get(field) or ""), reverse=direction != "asc")
        return json_response(_paginate(items, *paging))

    @app.route("GET", "/api/public/traces/{trace_id}")
    async def trace(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        found = store.traces.get(request.params["trace_id"])
        if found is None or not store.visible(found):
            return json_response({"message": f"Trace {request.params['trace_id']} not found within authorized "
                                             "project", "error": "LangfuseNotFoundError"}, 404)
        return json_response(store.trace_view(found, full=True))

    @app.route("GET", "/api/public/observations")
    async def observations(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        paging = _page(request)
        if isinstance(paging, Response):
            return paging
        query = request.query
        items = [store.observation_view(o) for o in store.observations.values() if store.visible(o)
                 and not any(query.get(k) and o.get(k) != query[k]
                             for k in ("traceId", "type", "name", "level", "parentObservationId"))]
        items.sort(key=lambda o: str(o.get("startTime") or ""), reverse=True)
        return json_response(_paginate(items, *paging))

    @app.route("GET", "/api/public/v2/observations")
    async def observations_v2(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        query = request.query
        try:
            limit = int(query.get("limit", 50))
            offset = int(base64.urlsafe_b64decode(query["cursor"]).decode()) if query.get("cursor") else 0
        except (ValueError, UnicodeDecodeError):
            limit, offset = 0, -1
        if not 1 <= limit <= 1000 or offset < 0:
            return json_response({"message": "Invalid request data", "error": [
                {"path": ["limit"], "message": "1 <= limit <= 1000 and a cursor from a previous page"}]}, 400)
        items = [store.observation_v2_view(o) for o in store.observations.values() if store.visible(o)]
        items = [o for o in items if not any(query.get(k) and str(o.get(k)) != query[k] for k in (
            "traceId", "type", "name", "level", "parentObservationId", "userId", "sessionId", "environment"))]
        items.sort(key=lambda o: (str(o.get("startTime") or ""), o["id"]), reverse=True)
        page = items[offset: offset + limit]
        more = offset + limit < len(items)
        cursor = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None
        return json_response({"data": page, "meta": {"cursor": cursor}})

    @app.route("GET", "/api/public/observations/{observation_id}")
    async def observation(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        found = store.observations.get(request.params["observation_id"])
        if found is None or not store.visible(found):
            return json_response({"message": "Observation not found within authorized project",
                                  "error": "LangfuseNotFoundError"}, 404)
        return json_response(store.observation_view(found))

    @app.route("GET", "/_standin/stats")
    async def stats(request: Request) -> Response:
        return json_response({**store.stats, "traces": len(store.traces), "observations": len(store.observations)})

    return app
