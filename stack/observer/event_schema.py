"""The VPS plan's event (slice 7) as a schema, and a publisher that validates before `XADD`.

The plan's sketch writes whatever it is given; here a malformed event is refused with the field and
the reason, and nothing reaches the stream. Each event goes on the stream as one `event` field of JSON.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["STREAM", "Event", "InvalidEvent", "parse", "publish"]

STREAM = "agent_events"
_EVENT_ID = re.compile(r"^evt_[A-Za-z0-9_\-]{3,120}$")
_AGGREGATE = re.compile(r"^[a-z][a-z0-9_\-]*:[A-Za-z0-9_.\-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Agent(_Strict):
    model: str = Field(min_length=1)
    agent_id: str = Field(min_length=1)
    session_id: str = Field(min_length=1)


class Payload(_Strict):
    action: str = Field(min_length=1)
    resource: str = Field(min_length=1)
    data: dict[str, Any]
    reasoning: str = ""


class Metadata(_Strict):
    correlation_id: str = Field(min_length=1)
    approval_required: bool = False


class Event(_Strict):
    """One agent action. `version` is the aggregate version the agent based it on (optimistic locking)."""

    event_id: str = Field(pattern=_EVENT_ID.pattern)
    event_type: str = Field(min_length=1)
    aggregate_id: str = Field(pattern=_AGGREGATE.pattern, description="kind:name, e.g. project:life-os")
    version: int = Field(ge=0)
    timestamp: datetime
    agent: Agent
    payload: Payload
    metadata: Metadata


class InvalidEvent(ValueError):
    """The event breaks the schema; the message names the field and what is wrong."""


def parse(raw: str | bytes | dict[str, Any]) -> Event:
    """An Event from JSON text or a dict, or InvalidEvent saying which field is wrong and how."""
    try:
        data = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(data, dict):
        raise InvalidEvent(f"an event is a JSON object, not {type(data).__name__}")
    try:
        # timestamps arrive as text; strict mode would refuse the ISO string, so parse it first
        if isinstance(data.get("timestamp"), str):
            data = {**data, "timestamp": datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00"))}
        return Event.model_validate(data)
    except (ValidationError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(event)"
            raise InvalidEvent(f"{where}: {first['msg']}") from None
        raise InvalidEvent(f"timestamp: {exc}") from None


def publish(client: redis.Redis, event: str | bytes | dict[str, Any], stream: str = STREAM,
            validate: bool = True, maxlen: int | None = None) -> str:
    """Validates, then `XADD`s the event as JSON; returns the stream entry id. Nothing is written on error."""
    if validate:
        body = parse(event).model_dump_json()
    else:  # the plan's unchecked publisher, kept as the negative control for EV-2
        body = event if isinstance(event, str) else event.decode() if isinstance(event, bytes) else json.dumps(
            event, default=str)
    entry = client.xadd(stream, {"event": body}, maxlen=maxlen, approximate=maxlen is not None)
    return entry.decode() if isinstance(entry, bytes) else str(entry)
