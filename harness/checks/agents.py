"""AG-1..AG-5: the agents' own traffic through the gateway (the Fly.io plan cuts nine agents over to it).

Everything goes through the official `openai` SDK, as the agents' code does: a tool definition offered,
the tool call read back (plain, and assembled from a stream's deltas) and checked against the tool's JSON
Schema, the tool's result sent back, a final answer; structured output validated against its schema; and
a tool-calling request whose primary fails, answered by the fallback with a tool call, never prose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import jsonschema
import openai

from harness.agents import DEFAULT_FLEET, AgentShape, Fleet, load_fleet
from harness.capabilities import Capability
from harness.registry import check
from harness.results import NotApplicable, Outcome
from harness.spend import Estimate
from harness.stack import Stack

__all__ = ["INVOICE", "WEATHER", "agent_fleet", "anthropic_native_route", "ask_with_tools", "client_for",
           "fallback_keeps_tools", "structured_output", "tool_problem", "tool_round_trip"]

WEATHER: dict[str, Any] = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "minLength": 1},
                                                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}
_ASK = "What is the weather in Paris right now? Use the get_weather tool."
_FORCE = {"type": "function", "function": {"name": "get_weather"}}
INVOICE: dict[str, Any] = {"type": "object", "properties": {
    "number": {"type": "string"}, "total": {"type": "number"}, "paid": {"type": "boolean"},
    "lines": {"type": "array", "items": {"type": "object", "properties": {"item": {"type": "string"},
                                                                          "qty": {"type": "integer"}},
                                         "required": ["item", "qty"], "additionalProperties": False}}},
    "required": ["number", "total", "paid", "lines"], "additionalProperties": False}


@dataclass
class ToolAnswer:
    """What came back for a tool-calling request: the tool calls (id, name, raw arguments) or the text."""

    served_by: str | None = None
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    text: str = ""
    finish: str | None = None
    error: str = ""


def client_for(stack: Stack) -> openai.OpenAI:
    """The official openai SDK pointed at the gateway, as an agent's code builds it (spend-guarded)."""
    key = stack.master_key.get_secret_value() if stack.master_key else "none"
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=key, max_retries=0, timeout=60,
                         http_client=stack.http(timeout=60))


def _models(stack: Stack) -> list[str]:
    known = {m.name for m in stack.target.chat_models()}
    return [m for m in stack.target.plan.cost_order if m in known]


def ask_with_tools(client: openai.OpenAI, model: str, messages: list[dict[str, Any]], stream: bool,
                   tools: list[dict[str, Any]] | None = None, **extra: Any) -> ToolAnswer:
    """One request offering `tools` (get_weather by default; none with `tools=[]`); a stream's tool-call deltas
    are put together as an agent's SDK loop does."""
    answer = ToolAnswer()
    no_cache = {"cache": {"no-cache": True}}
    offered = [WEATHER] if tools is None else tools
    if offered:
        extra["tools"] = offered
    try:
        if not stream:
            raw = client.chat.completions.with_raw_response.create(
                model=model, messages=messages, extra_body=no_cache, **extra)  # type: ignore[arg-type]
            answer.served_by = raw.headers.get("x-litellm-model-group")
            choice = raw.parse().choices[0]
            answer.finish, answer.text = choice.finish_reason, choice.message.content or ""
            answer.calls = [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or []
                            if c.type == "function"]
            return answer
        parts: dict[int, list[str]] = {}
        with client.chat.completions.with_streaming_response.create(
                model=model, messages=messages, stream=True, extra_body=no_cache,  # type: ignore[arg-type]
                **extra) as raw:
            answer.served_by = raw.headers.get("x-litellm-model-group")
            for chunk in raw.parse():
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                answer.text += delta.content or ""
                answer.finish = chunk.choices[0].finish_reason or answer.finish
                for piece in delta.tool_calls or []:
                    slot = parts.setdefault(piece.index, ["", "", ""])
                    slot[0] = piece.id or slot[0]
                    if piece.function is not None:
                        slot[1] += piece.function.name or ""
                        slot[2] += piece.function.arguments or ""
        answer.calls = [(i, n, a) for i, n, a in (parts[k] for k in sorted(parts))]
    except openai.OpenAIError as exc:
        answer.error = f"{type(exc).__name__}: {str(exc)[:200]}"
    return answer


def tool_problem(answer: ToolAnswer) -> str:
    """Why this is not a valid call of get_weather ('' when it is)."""
    if answer.error:
        return answer.error
    if not answer.calls:
        return f"no tool call, {'prose' if answer.text.strip() else 'nothing'} instead ({answer.text[:60]!r})"
    _, name, arguments = answer.calls[0]
    if name != "get_weather":
        return f"called {name!r}, which was never offered"
    try:
        jsonschema.validate(json.loads(arguments), WEATHER["function"]["parameters"])
    except (ValueError, jsonschema.ValidationError) as exc:
        return f"arguments not valid for the tool's schema: {str(exc).splitlines()[0][:120]}"
    return ""


@check("AG-1", spend=Estimate(4 * 3, 120, 64))
def tool_round_trip(stack: Stack) -> list[Outcome]:
    """AG-1: per model, plain and streamed: the tool call arrives with the offered name and schema-valid
    arguments; the tool's result goes back; a final text answer arrives."""
    outcomes = []
    with client_for(stack) as client:
        for model in _models(stack):
            for stream in (False, True):
                question = [{"role": "user", "content": _ASK}]
                # the tool forced on the first turn: a real model may answer in prose under "auto", which would
                # say nothing about the gateway; the follow-up leaves the choice to the model
                first = ask_with_tools(client, model, question, stream, tool_choice=_FORCE)
                problem = tool_problem(first)
                final = ToolAnswer()
                if not problem:
                    ident, name, arguments = first.calls[0]
                    result = {"role": "tool", "tool_call_id": ident, "content": json.dumps({"temp_c": 21})}
                    turn = {"role": "assistant", "content": None, "tool_calls": [
                        {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}]}
                    final = ask_with_tools(client, model, [*question, turn, result], stream)
                    if final.error or final.calls or not final.text.strip():
                        why = final.error or ("another tool call" if final.calls else "no answer")
                        problem = f"after the tool's result: {why}"
                mode = "streamed" if stream else "plain"
                outcomes.append(Outcome(
                    id="AG-1", case=f"{model} / {mode}", passed=not problem,
                    measured=problem or f"{first.calls[0][1]}({first.calls[0][2]}) then {len(final.text)} chars",
                    threshold="a valid get_weather call, then a text answer",
                    detail=problem or f"tool call with schema-valid arguments, then an answer ({final.finish})",
                    evidence={"served_by": first.served_by, "tool_calls": first.calls, "finish": first.finish}))
    return outcomes


@check("AG-3", spend=Estimate(3, 80, 128))
def structured_output(stack: Stack) -> list[Outcome]:
    """AG-3: per model, `response_format: json_schema` gives JSON that validates against the schema."""
    outcomes = []
    with client_for(stack) as client:
        for model in _models(stack):
            problem, text = "", ""
            try:
                done = client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "Extract the invoice: INV-7, 2 x widget, "
                                                                       "$40, paid."}],
                    response_format={"type": "json_schema", "json_schema": {"name": "invoice", "schema": INVOICE,
                                                                            "strict": True}},
                    extra_body={"cache": {"no-cache": True}})
                text = done.choices[0].message.content or ""
                jsonschema.validate(json.loads(text), INVOICE)
            except openai.OpenAIError as exc:
                problem = f"{type(exc).__name__}: {str(exc)[:200]}"
            except (ValueError, jsonschema.ValidationError) as exc:
                problem = f"not valid for the schema: {str(exc).splitlines()[0][:160]}"
            outcomes.append(Outcome(id="AG-3", case=model, passed=not problem, measured=problem or "valid",
                                    threshold="JSON valid for the schema", detail=problem or f"{len(text)} chars, "
                                    "valid for the invoice schema", evidence={"content": text[:300]}))
    return outcomes


@check("AG-2", needs={Capability.PROVIDER_CONTROL}, spend=lambda t: Estimate(3 * len(t.plan.chains), 120, 64))
def fallback_keeps_tools(stack: Stack) -> list[Outcome]:
    """AG-2: per plan chain, its primary failing (HTTP 500), the same tool-calling request, plain and streamed,
    is answered by the next model with a tool call, never with prose in its place; a tool call's stream cut
    after it began is fallen back on whole or reaches the agent as an error, never as prose or a cut call."""
    outcomes = []
    mock = stack.mock()
    assert mock is not None
    try:
        with client_for(stack) as client:
            for primary, rest in stack.target.plan.chains.items():
                upstream = stack.target.upstream_model(primary)
                try:
                    for label, stream, fault in (("down / plain", False, {"status": 500}),
                                                 ("down / streamed", True, {"status": 500}),
                                                 # the tool call's stream cut after it began (LiteLLM #31067)
                                                 ("cut mid-stream", True, {"stream_cut_after": 2,
                                                                           "tokens_per_s": 20})):
                        mock.set(upstream, **fault)
                        answer = ask_with_tools(client, primary, [{"role": "user", "content": _ASK}], stream,
                                                tool_choice=_FORCE)
                        problem = tool_problem(answer)
                        cut = fault.get("stream_cut_after") is not None
                        if cut and (answer.error or not problem):
                            # the cut reached the agent as an error (it can retry), or the call came whole (Gemini
                            # sends a function call in one chunk: nothing to cut): no prose, no cut call passed
                            problem = ""
                        elif not problem and answer.served_by != rest[0]:
                            problem = f"answered by {answer.served_by}, not {rest[0]}"
                        elif problem and not answer.error:
                            problem = f"{answer.served_by} answered without the tool call: {problem}"
                        outcomes.append(Outcome(
                            id="AG-2", case=f"{primary} {label}",
                            passed=not problem, measured={"served_by": answer.served_by,
                                                          "tool_call": answer.calls[0][1] if answer.calls else None},
                            threshold={"served_by": rest[0], "tool_call": "get_weather"},
                            detail=problem or (f"the cut reached the client as an error: {answer.error[:120]}"
                                               if answer.error else f"{answer.served_by} answered with a valid "
                                               f"tool call{' (sent whole: nothing to cut)' if cut else ''}"),
                            evidence={"tool_calls": answer.calls, "text": answer.text[:200]}))
                finally:
                    mock.reset(upstream)
    finally:
        mock.close()
    return outcomes


def _anthropic_tool() -> dict[str, Any]:
    fn = WEATHER["function"]
    return {"name": fn["name"], "description": fn["description"], "input_schema": fn["parameters"]}


def _native_round_trip(client: anthropic.Anthropic, model: str, stream: bool) -> tuple[str, dict[str, Any]]:
    """One tool round trip on the Anthropic-native route: (problem or '', evidence)."""
    question: list[dict[str, Any]] = [{"role": "user", "content": _ASK}]

    served: list[str | None] = []

    def ask(messages: list[dict[str, Any]]) -> anthropic.types.Message:
        params: dict[str, Any] = {"model": model, "max_tokens": 256, "tools": [_anthropic_tool()],
                                  "messages": messages, "extra_body": {"cache": {"no-cache": True}}}
        if messages is question:  # forced on the first turn only (see AG-1)
            params["tool_choice"] = {"type": "tool", "name": "get_weather"}
        if not stream:
            raw = client.messages.with_raw_response.create(**params)
            served.append(raw.headers.get("x-litellm-model-group"))
            return raw.parse()
        with client.messages.stream(**params) as events:
            served.append(events.response.headers.get("x-litellm-model-group"))
            return events.get_final_message()

    first = ask(question)
    uses = [b for b in first.content if b.type == "tool_use"]
    evidence: dict[str, Any] = {"stop_reason": first.stop_reason, "blocks": [b.type for b in first.content],
                                "served_by": served[-1] if served else None}
    if served and served[-1] != model:  # each model must answer itself: a silent fallback hides a broken route
        return f"answered by {served[-1]}, not {model} (the route fell back)", evidence
    if not uses:
        return "no tool_use block: " + " ".join(getattr(b, "text", "") for b in first.content)[:80], evidence
    use = uses[0]
    evidence["tool_use"] = {"name": use.name, "input": use.input}
    if use.name != "get_weather":
        return f"called {use.name!r}, which was never offered", evidence
    try:
        jsonschema.validate(use.input, WEATHER["function"]["parameters"])
    except jsonschema.ValidationError as exc:
        return f"input not valid for the tool's schema: {exc.message[:120]}", evidence
    turn = {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                           "content": json.dumps({"temp_c": 21})}]}
    final = ask([*question, turn, result])
    text = "".join(getattr(b, "text", "") for b in final.content if b.type == "text")
    evidence["final_stop_reason"] = final.stop_reason
    return ("" if text.strip() else "no text answer after the tool's result"), evidence


@check("AG-4", spend=Estimate(4 * 3, 120, 256))
def anthropic_native_route(stack: Stack) -> list[Outcome]:
    """AG-4: the gateway's Anthropic-native route (`/v1/messages`) through the official `anthropic` SDK, per
    model, plain and streamed: a tool_use block with schema-valid input, the tool_result back, an answer."""
    key = stack.master_key.get_secret_value() if stack.master_key else "none"
    outcomes = []
    with anthropic.Anthropic(base_url=stack.gateway_url, api_key=key, max_retries=0, timeout=60,
                             http_client=stack.http(timeout=60)) as client:
        for model in _models(stack):
            for stream in (False, True):
                try:
                    problem, evidence = _native_round_trip(client, model, stream)
                except anthropic.NotFoundError as exc:
                    raise NotApplicable(f"the gateway has no Anthropic-native route (/v1/messages: {exc.status_code})"
                                        ) from None
                except anthropic.APIError as exc:
                    problem, evidence = f"{type(exc).__name__}: {str(exc)[:200]}", {}
                outcomes.append(Outcome(id="AG-4", case=f"{model} / {'streamed' if stream else 'plain'}",
                                        passed=not problem, measured=problem or "tool_use, tool_result, answer",
                                        threshold="a valid get_weather tool_use, then a text answer",
                                        detail=problem or f"anthropic SDK: {model} itself answered with a tool_use "
                                                          "of schema-valid input, then a text answer",
                                        evidence=evidence))
    return outcomes


def _fleet(stack: Stack) -> Fleet:
    return load_fleet(stack.target.agents or DEFAULT_FLEET)


def _agent_problem(fleet: Fleet, agent: AgentShape, answer: ToolAnswer) -> str:
    if answer.error:
        return answer.error
    if answer.served_by != agent.model:
        return f"answered by {answer.served_by}, not {agent.model}"
    if agent.tools:
        if not answer.calls:
            return f"no tool call, prose instead ({answer.text[:60]!r})"
        _, name, arguments = answer.calls[0]
        if name not in agent.tools:
            return f"called {name!r}, which it never offered"
        try:
            jsonschema.validate(json.loads(arguments), fleet.tools[name].parameters)
        except (ValueError, jsonschema.ValidationError) as exc:
            return f"{name} arguments not valid for its schema: {str(exc).splitlines()[0][:120]}"
        return ""
    if agent.response_format:
        try:
            jsonschema.validate(json.loads(answer.text), fleet.schemas[agent.response_format])
        except (ValueError, jsonschema.ValidationError) as exc:
            return f"not valid for {agent.response_format}: {str(exc).splitlines()[0][:120]}"
        return ""
    return "" if answer.text.strip() else "an empty answer"


@check("AG-5", spend=lambda t: Estimate(len(load_fleet(t.agents or DEFAULT_FLEET).agents), 200, 256))
def agent_fleet(stack: Stack) -> list[Outcome]:
    """AG-5: each agent of the traffic profile (`agents`, default stack/agents/fleet.yaml: the plan's nine),
    its request replayed as its SDK sends it: served by its own model, a valid call of a tool it offered,
    JSON valid for the schema it asked for, or a text answer."""
    fleet = _fleet(stack)
    outcomes = []
    with client_for(stack) as client:
        for agent in fleet.agents:
            body = fleet.body(agent)
            extra = {k: body[k] for k in ("max_tokens", "response_format") if k in body}
            if agent.tools:  # one of its tools, as it asked for one: "auto" would let a real model answer in prose
                extra["tool_choice"] = "required"
            answer = ask_with_tools(client, agent.model, body["messages"], agent.stream, body.get("tools", []),
                                    **extra)
            problem = _agent_problem(fleet, agent, answer)
            wants = "a tool call" if agent.tools else f"{agent.response_format} JSON" if agent.response_format \
                else "a text answer"
            outcomes.append(Outcome(id="AG-5", case=agent.name, passed=not problem,
                                    measured=problem or f"{wants} from {answer.served_by}",
                                    threshold=f"{wants} from {agent.model}{' (streamed)' if agent.stream else ''}",
                                    detail=problem or f"{agent.name}: {wants} from {agent.model}",
                                    evidence={"tool_calls": answer.calls, "text": answer.text[:200],
                                              "stream": agent.stream}))
    return outcomes
