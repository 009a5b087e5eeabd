"""Which ingestion events Langfuse accepts: its zod rules that matter, field types as its API documents them.

A field that is present and not null must have its documented type (a string id, a list of string
tags, an object of numbers for usage details ...); an event that breaks one is a per-event 400 in
the 207 answer, and the rest of the batch still lands, as on a real server.
"""

from __future__ import annotations

import re
from typing import Any

from harness.standins.langfuse.store import parse_time

__all__ = ["EVENT_TYPES", "problem"]

EVENT_TYPES = {"trace-create", "span-create", "span-update", "generation-create", "generation-update",
               "event-create", "score-create", "sdk-log", "observation-create", "observation-update",
               "agent-create", "tool-create", "chain-create", "retriever-create", "evaluator-create",
               "embedding-create", "guardrail-create"}
_LEVELS = {"DEBUG", "DEFAULT", "WARNING", "ERROR"}
_TZ = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_STRINGS = ("id", "traceId", "name", "userId", "sessionId", "release", "version", "statusMessage",
            "parentObservationId", "model", "environment", "observationId", "comment", "dataType", "configId",
            "promptName")
_TIMES = ("startTime", "endTime", "completionStartTime", "timestamp")
_OBJECTS = ("modelParameters", "usageDetails", "costDetails", "usage")
_NUMBER_MAPS = ("usageDetails", "costDetails")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _time(value: Any) -> bool:
    """An ISO-8601 string that parses (a missing zone is taken as UTC, as Langfuse does in bodies)."""
    try:
        return isinstance(value, str) and parse_time(value) is not None
    except ValueError:
        return False


def _body_problem(kind: str, body: dict[str, Any]) -> str | None:
    if kind not in {"trace-create", "score-create", "sdk-log"} and not isinstance(body.get("id"), str):
        return "body.id: required"
    for key in _STRINGS:
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"body.{key}: string expected"
    if body.get("level") is not None and (not isinstance(body["level"], str) or body["level"] not in _LEVELS):
        return f"body.level: must be one of {sorted(_LEVELS)}"
    for key in _TIMES:
        if body.get(key) is not None and not _time(body[key]):
            return f"body.{key}: not a datetime"
    for key in _OBJECTS:
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"body.{key}: object expected"
    for key in _NUMBER_MAPS:
        if any(not _number(v) for v in (body.get(key) or {}).values()):
            return f"body.{key}: numbers expected"
    if body.get("tags") is not None and (not isinstance(body["tags"], list)
                                         or not all(isinstance(t, str) for t in body["tags"])):
        return "body.tags: list of strings expected"
    if body.get("public") is not None and not isinstance(body["public"], bool):
        return "body.public: boolean expected"
    if kind == "score-create":
        if not body.get("name"):
            return "body.name: required"
        if not any(isinstance(body.get(k), str) for k in ("traceId", "sessionId", "datasetRunId")):
            return "body.traceId: a score belongs to a trace, a session or a dataset run"
        if not _number(body.get("value")) and not isinstance(body.get("value"), str):
            return "body.value: number or string required"
    return None


def problem(event: Any) -> str | None:
    """Why Langfuse would refuse this event, or None."""
    if not isinstance(event, dict):
        return "event must be an object"
    ident = event.get("id")
    if not isinstance(ident, str) or not 1 <= len(ident) <= 800 or "\r" in ident:
        return "id: string of 1-800 characters required"
    if not isinstance(event.get("type"), str) or event["type"] not in EVENT_TYPES:
        return f"type: invalid discriminator value {event.get('type')!r}"
    stamp = event.get("timestamp")
    if not isinstance(stamp, str) or not _TZ.search(stamp):
        return "timestamp: ISO-8601 with a timezone required"
    if not _time(stamp):
        return "timestamp: not a datetime"
    body = event.get("body")
    if not isinstance(body, dict):
        return "body: object required"
    return _body_problem(event["type"], body)
