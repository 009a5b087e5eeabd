"""An agent traffic profile: the request shapes a fleet of agents sends through the gateway.

A profile (YAML, `stack/agents/fleet.yaml` by default: the Fly.io plan's nine agents) names the tools and
output schemas once and, per agent, its model, whether it streams, the tools it offers or the schema it asks
for, a typical prompt and its weight in the mix. AG-5 replays each shape; `load.payload: agents` makes the
load generator send the mix by weight. Kept free of heavy imports: the Locust process loads it too.
"""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["DEFAULT_FLEET", "AgentShape", "Fleet", "load_fleet", "with_nonce"]

DEFAULT_FLEET = Path(__file__).resolve().parent.parent / "stack" / "agents" / "fleet.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolSpec(_Model):
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class AgentShape(_Model):
    name: str
    weight: float = Field(1.0, gt=0)
    model: str
    stream: bool = False
    tools: list[str] = Field(default_factory=list, description="tools it offers (names in the profile's tools)")
    response_format: str | None = Field(None, description="the schema (a name in the profile's schemas) it asks for")
    prompt: str
    max_tokens: int = Field(256, ge=1)


class Fleet(_Model):
    tools: dict[str, ToolSpec] = Field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = Field(default_factory=dict)
    agents: list[AgentShape] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_known(self) -> Fleet:
        for agent in self.agents:
            unknown = [t for t in agent.tools if t not in self.tools]
            if unknown:
                raise ValueError(f"agent {agent.name}: tools {unknown} are not in the profile's tools")
            if agent.response_format and agent.response_format not in self.schemas:
                raise ValueError(f"agent {agent.name}: schema {agent.response_format!r} is not in the profile's "
                                 "schemas")
        return self

    def body(self, agent: AgentShape) -> dict[str, Any]:
        """The chat completion request the agent sends (OpenAI format, as its SDK builds it)."""
        body: dict[str, Any] = {"model": agent.model, "max_tokens": agent.max_tokens, "stream": agent.stream,
                                "messages": [{"role": "user", "content": agent.prompt}]}
        if agent.tools:
            body["tools"] = [{"type": "function", "function": {"name": name, **self.tools[name].model_dump()}}
                             for name in agent.tools]
        if agent.response_format:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": agent.response_format, "schema": self.schemas[agent.response_format], "strict": True}}
        if agent.stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def shapes(self) -> list[dict[str, Any]]:
        """Every agent's request with its weight, as the load generator takes them."""
        return [{"agent": a.name, "weight": a.weight, "body": self.body(a)} for a in self.agents]


def with_nonce(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of `body` whose last message starts with a fresh nonce: every request unique, no cache hits."""
    out = copy.deepcopy(body)
    last = out["messages"][-1]
    last["content"] = f"[{uuid.uuid4().hex[:12]}] {last['content']}"
    return out


def load_fleet(path: Path) -> Fleet:
    """A profile file, or ValueError naming the file and the problem."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the agent profile ({exc.strerror}); check `agents` in the target") \
            from None
    try:
        return Fleet.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(profile)"
        raise ValueError(f"{path}: {where}: {first['msg']}") from None
