"""The vendors' official Python SDKs, unchanged, against the mock: plain, streamed, tools, usage, errors.

Each SDK parses answers into its own typed models (generated from the vendor's spec), so a field the
mock leaves out or mistypes shows up here as the SDK's own error; errors must map to the SDK's own
exception classes with the status and retry hint a client acts on.
"""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from harness._http import App
from harness.standins.mockllm import MockControl, create_app
from tests.standins.mockllm.test_spec_conformance import WEATHER

PROMPT = "Name three colours"


@pytest.fixture
def mock(serve_app: Callable[[App], str]) -> str:
    return serve_app(create_app())


@pytest.fixture
def control(mock: str) -> MockControl:
    return MockControl(mock)


def test_openai_sdk_plain_stream_tools_and_errors(mock: str, control: MockControl) -> None:
    client = openai.OpenAI(base_url=f"{mock}/v1", api_key="sk-test", max_retries=0)
    messages: list = [{"role": "user", "content": PROMPT}]
    plain = client.chat.completions.create(model="gpt-4o", messages=messages)
    assert plain.choices[0].message.content and plain.usage and plain.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=messages, stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == plain.choices[0].message.content
    assert chunks[-1].usage == plain.usage
    tool = client.chat.completions.create(model="gpt-4o", messages=messages,
                                          tools=[{"type": "function", "function": WEATHER}])
    assert tool.choices[0].message.tool_calls[0].function.name == "get_weather"
    with client.responses.stream(model="gpt-4o", input=PROMPT) as events:
        final = events.get_final_response()
    assert final.output_text and final.usage and final.usage.output_tokens > 0
    embedded = client.embeddings.create(model="text-embedding-3-small", input=["a red cat"])
    assert len(embedded.data[0].embedding) == 1536
    control.set("gpt-4o", status=429, retry_after_s=3)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="gpt-4o", messages=messages)
    assert limited.value.response.headers["retry-after"] == "3"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=[])


def test_anthropic_sdk_plain_stream_tools_and_errors(mock: str, control: MockControl) -> None:
    client = anthropic.Anthropic(base_url=mock, api_key="sk-ant", max_retries=0)
    model = "claude-3-5-sonnet-20241022"
    messages: list = [{"role": "user", "content": PROMPT}]
    plain = client.messages.create(model=model, max_tokens=64, messages=messages)
    assert plain.content[0].type == "text" and plain.usage.output_tokens > 0 and plain.stop_reason == "end_turn"
    with client.messages.stream(model=model, max_tokens=64, messages=messages) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == plain.content[0].text
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert final.usage.output_tokens == plain.usage.output_tokens
    tool = client.messages.create(model=model, max_tokens=64, messages=messages, tools=[
        {"name": WEATHER["name"], "description": WEATHER["description"], "input_schema": WEATHER["parameters"]}])
    assert tool.stop_reason == "tool_use" and tool.content[0].type == "tool_use"
    assert client.messages.count_tokens(model=model, messages=messages).input_tokens > 0
    control.set(model, status=529)
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        client.messages.create(model=model, max_tokens=64, messages=messages)
    assert overloaded.value.status_code == 529 and overloaded.value.request_id
    control.set(model, status=429, retry_after_s=2)
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model=model, max_tokens=64, messages=messages)
    control.set(model, stream_error_after=2)
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"), \
            client.messages.stream(model=model, max_tokens=64, messages=messages) as broken:
        "".join(broken.text_stream)
    control.reset()
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=model, max_tokens=64, messages=[])


def test_google_genai_sdk_plain_stream_tools_and_errors(mock: str, control: MockControl) -> None:
    client = genai.Client(api_key="g-key", http_options=genai_types.HttpOptions(base_url=mock, api_version="v1beta"))
    model = "gemini-2.0-flash"
    plain = client.models.generate_content(model=model, contents=PROMPT)
    assert plain.text and plain.usage_metadata and plain.usage_metadata.candidates_token_count
    streamed = list(client.models.generate_content_stream(model=model, contents=PROMPT))
    assert "".join(c.text or "" for c in streamed) == plain.text
    assert streamed[-1].usage_metadata.total_token_count == plain.usage_metadata.total_token_count
    declaration = genai_types.FunctionDeclaration(name=WEATHER["name"], description=WEATHER["description"],
                                                  parameters_json_schema=WEATHER["parameters"])
    config = genai_types.GenerateContentConfig(tools=[genai_types.Tool(function_declarations=[declaration])])
    tool = client.models.generate_content(model=model, contents="Weather in Oslo?", config=config)
    assert tool.function_calls and tool.function_calls[0].name == "get_weather"
    control.set(model, status=429)
    with pytest.raises(genai_errors.ClientError) as limited:
        client.models.generate_content(model=model, contents=PROMPT)
    assert limited.value.code == 429 and limited.value.status == "RESOURCE_EXHAUSTED"
    control.set(model, status=503)
    with pytest.raises(genai_errors.ServerError) as unavailable:
        client.models.generate_content(model=model, contents=PROMPT)
    assert unavailable.value.code == 503
    control.reset()
    with pytest.raises(genai_errors.ClientError) as refused:
        client.models.generate_content(model=model, contents=[genai_types.Content(role="user", parts=[])])
    assert refused.value.code == 400 and refused.value.status == "INVALID_ARGUMENT"
