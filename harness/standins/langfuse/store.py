"""The stand-in's data: traces and observations upserted from ingestion events, as Langfuse v3 merges them.

Events are deduplicated by event id, because the v2 SDK resends a whole batch after a 207 that
carried any error; entity upserts follow Langfuse's rules (later values win, tags are a union).
A generation with usage but no cost gets one from a model definition whose `matchPattern` matches
its model, as Langfuse infers it; only definitions made through the models API exist here (Langfuse's
built-in price list is not copied).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

__all__ = ["Store", "iso", "parse_time"]

_IMMUTABLE_TRACE = {"id", "timestamp"}
_IMMUTABLE_OBSERVATION = {"id", "traceId", "startTime"}
_OBSERVATION_TYPES = {"span": "SPAN", "generation": "GENERATION", "event": "EVENT", "agent": "AGENT", "tool": "TOOL",
                      "chain": "CHAIN", "retriever": "RETRIEVER", "evaluator": "EVALUATOR",
                      "embedding": "EMBEDDING", "guardrail": "GUARDRAIL"}


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _merge(current: dict[str, Any], update: dict[str, Any], immutable: set[str]) -> None:
    for key, value in update.items():
        if value is None or (key in immutable and key in current):
            continue
        if key == "tags":
            current["tags"] = sorted(set(current.get("tags") or []) | set(value))
        elif key == "metadata" and isinstance(value, dict) and isinstance(current.get("metadata"), dict):
            current["metadata"] = {**current["metadata"], **value}
        elif isinstance(value, dict) and not value and key in current:
            continue
        else:
            current[key] = value


class Store:
    """In-memory project data with an optional visibility delay, like v3's asynchronous worker."""

    def __init__(self, project_id: str = "harness-project", visibility_delay_s: float = 0.0) -> None:
        self.project_id = project_id
        self.visibility_delay_s = visibility_delay_s
        self.traces: dict[str, dict[str, Any]] = {}
        self.observations: dict[str, dict[str, Any]] = {}
        self._seen_events: set[str] = set()
        self.otel_traces: set[str] = set()  # trace ids an OTLP export has written (shallow-trace rule)
        self.models: list[dict[str, Any]] = []
        self.stats = {"events": 0, "duplicates": 0, "batches": 0, "otlp_spans": 0}

    def add_model(self, body: dict[str, Any]) -> dict[str, Any]:
        """A custom model definition (the models API); its prices are USD per unit (token)."""
        re.compile(body["matchPattern"])
        model = {"id": f"model-{len(self.models) + 1}", "modelName": body["modelName"],
                 "matchPattern": body["matchPattern"], "startDate": body.get("startDate"),
                 "unit": body.get("unit") or "TOKENS", "inputPrice": body.get("inputPrice"),
                 "outputPrice": body.get("outputPrice"), "totalPrice": body.get("totalPrice"),
                 "tokenizerId": body.get("tokenizerId"), "tokenizerConfig": body.get("tokenizerConfig"),
                 "isLangfuseManaged": False, "createdAt": iso(datetime.now(UTC))}
        model["prices"] = {k: {"price": model[f"{k}Price"]} for k in ("input", "output", "total")
                           if model[f"{k}Price"] is not None}
        # Langfuse answers flat prices as one default pricing tier too (the current SDK requires the list)
        model["pricingTiers"] = [{"id": f"{model['id']}-tier", "name": "Standard", "isDefault": True, "priority": 0,
                                  "conditions": [], "prices": {k: v["price"] for k, v in model["prices"].items()}}]
        self.models.append(model)
        return model

    def _infer_cost(self, obs: dict[str, Any]) -> None:
        # a cost the sender gave stands; an inferred one follows later usage
        if obs["type"] != "GENERATION" or (obs.get("costDetails") and not obs.get("modelId")) or not obs.get("model"):
            return
        usage = obs.get("usageDetails") or {}
        # the newest matching definition wins, as in Langfuse
        model = next((m for m in reversed(self.models) if re.search(m["matchPattern"], obs["model"])), None)
        if model is None or not usage:
            return
        costs = {part: usage[part] * model[f"{part}Price"] for part in ("input", "output")
                 if model[f"{part}Price"] is not None and isinstance(usage.get(part), int | float)}
        if model["totalPrice"] is not None and isinstance(usage.get("total"), int | float) and not costs:
            costs["total"] = usage["total"] * model["totalPrice"]
        if costs:
            costs.setdefault("total", sum(costs.values()))
            obs["costDetails"] = costs
            obs["modelId"] = model["id"]

    def visible(self, entity: dict[str, Any]) -> bool:
        return time.monotonic() - entity["_received"] >= self.visibility_delay_s

    def apply(self, event: dict[str, Any]) -> None:
        """Applies one validated event; a repeated event id is acknowledged and ignored."""
        self.stats["events"] += 1
        if event["id"] in self._seen_events:
            self.stats["duplicates"] += 1
            return
        self._seen_events.add(event["id"])
        kind, _, _action = event["type"].rpartition("-")
        body = dict(event["body"])
        now = datetime.now(UTC)
        if kind == "trace":
            self._upsert_trace(body, event["timestamp"], now)
        elif kind in _OBSERVATION_TYPES or kind == "observation":
            obs_type = body.pop("type", None) if kind == "observation" else _OBSERVATION_TYPES[kind]
            self._upsert_observation(body, obs_type or "SPAN", now)

    def _upsert_trace(self, body: dict[str, Any], event_ts: str, now: datetime) -> None:
        trace = self.traces.get(body["id"])
        if trace is None:
            trace = {"id": body["id"], "timestamp": body.get("timestamp") or event_ts, "name": None, "input": None,
                     "output": None, "sessionId": None, "release": None, "version": None, "userId": None,
                     "metadata": {}, "tags": [], "public": False, "environment": "default", "bookmarked": False,
                     "projectId": self.project_id, "externalId": None, "createdAt": iso(now),
                     "_received": time.monotonic()}
            self.traces[body["id"]] = trace
        _merge(trace, body, _IMMUTABLE_TRACE)
        trace["updatedAt"] = iso(now)

    def _upsert_observation(self, body: dict[str, Any], obs_type: str, now: datetime) -> None:
        obs = self.observations.get(body["id"])
        if obs is None:
            obs = {"id": body["id"], "type": obs_type, "projectId": self.project_id, "traceId": body.get("traceId"),
                   "parentObservationId": None, "name": None, "startTime": body.get("startTime") or iso(now),
                   "endTime": None,
                   "completionStartTime": None, "model": None, "modelParameters": {}, "input": None, "output": None,
                   "metadata": {}, "level": "DEFAULT", "statusMessage": None, "version": None,
                   "environment": "default", "usage": None, "usageDetails": {}, "costDetails": {},
                   "promptId": None, "promptName": None, "promptVersion": None, "createdAt": iso(now),
                   "_received": time.monotonic()}
            self.observations[body["id"]] = obs
        usage = body.pop("usage", None)
        _merge(obs, body, _IMMUTABLE_OBSERVATION)
        if isinstance(usage, dict):
            details = {k: int(usage[k]) for k in ("input", "output", "total") if isinstance(usage.get(k), int | float)}
            if "total" not in details and "input" in details and "output" in details and not body.get("usageDetails"):
                details["total"] = details["input"] + details["output"]
            obs["usageDetails"] = {**details, **(obs.get("usageDetails") or {})}
            costs = {k[:-4]: float(usage[k]) for k in ("inputCost", "outputCost", "totalCost")
                     if isinstance(usage.get(k), int | float)}
            obs["costDetails"] = {**costs, **(obs.get("costDetails") or {})}
        self._infer_cost(obs)
        obs["updatedAt"] = iso(now)
        if obs["traceId"] is not None and obs["traceId"] not in self.traces:
            # an observation without a trace-create still makes a (shallow) trace, as in Langfuse
            self._upsert_trace({"id": obs["traceId"]}, obs["startTime"] or iso(now) or "", now)

    def observation_view(self, obs: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in obs.items() if not k.startswith("_")}
        usage = obs.get("usageDetails") or {}
        costs = obs.get("costDetails") or {}
        inp = sum(v for k, v in usage.items() if "input" in k)
        out = sum(v for k, v in usage.items() if "output" in k)
        view["usage"] = {"unit": "TOKENS", "input": inp, "output": out, "total": usage.get("total", 0)}
        view.update(unit="TOKENS", promptTokens=inp, completionTokens=out, totalTokens=usage.get("total", 0))

        def cost(part: str) -> float | None:
            values = [v for k, v in costs.items() if part in k]
            return sum(values) if values else None

        view.update(calculatedInputCost=cost("input"), calculatedOutputCost=cost("output"),
                    calculatedTotalCost=costs.get("total", (cost("input") or 0) + (cost("output") or 0) or None),
                    inputPrice=None, outputPrice=None, totalPrice=None, modelId=obs.get("modelId"))
        start, end = parse_time(obs["startTime"]), parse_time(obs.get("endTime"))
        first = parse_time(obs.get("completionStartTime"))
        view["latency"] = (end - start).total_seconds() if start and end else None
        view["timeToFirstToken"] = (first - start).total_seconds() if start and first else None
        return view

    def observation_v2_view(self, obs: dict[str, Any]) -> dict[str, Any]:
        """The v2 observations API's row (what the current SDK reads): v1's fields plus the trace's."""
        view = self.observation_view(obs)
        trace = self.traces.get(obs.get("traceId") or "") or {}
        view.update(isRootObservation=obs.get("parentObservationId") is None, traceName=trace.get("name"),
                    userId=trace.get("userId"), sessionId=trace.get("sessionId"), tags=trace.get("tags"),
                    release=trace.get("release"), totalCost=view.get("calculatedTotalCost"))
        for key in ("usage", "unit", "promptTokens", "completionTokens", "totalTokens", "calculatedInputCost",
                    "calculatedOutputCost", "calculatedTotalCost"):
            view.pop(key, None)  # v1's derived fields: v2 carries usageDetails/costDetails/totalCost only
        return view

    def trace_observations(self, trace_id: str) -> list[dict[str, Any]]:
        return [o for o in self.observations.values() if o["traceId"] == trace_id and self.visible(o)]

    def trace_view(self, trace: dict[str, Any], full: bool) -> dict[str, Any]:
        view = {k: v for k, v in trace.items() if not k.startswith("_")}
        observations = [self.observation_view(o) for o in self.trace_observations(trace["id"])]
        starts = [t for o in observations if (t := parse_time(o["startTime"]))]
        ends = [t for o in observations if (t := parse_time(o.get("endTime")))]
        if starts and ends:
            latency = (max(ends) - min(starts)).total_seconds()
        elif starts:
            latency = (max(starts) - min(starts)).total_seconds()
        else:
            latency = 0.0
        view["latency"] = latency
        view["totalCost"] = sum(o["calculatedTotalCost"] or 0.0 for o in observations)
        view["htmlPath"] = f"/project/{self.project_id}/traces/{trace['id']}"
        view["observations"] = observations if full else [o["id"] for o in observations]
        view["scores"] = []
        return view
