"""Property tests: requests generated from the vendors' specs, valid and invalid, never break the mock.

Schemathesis draws request bodies from the pinned OpenAPI documents (positive: what the spec allows;
negative: what it forbids). Gemini, published as a discovery document, gets valid bodies mutated by
Hypothesis. Whatever arrives, the mock answers within its timeout with a status below 500, a 4xx in
the vendor's own error schema, and a 200 that validates like the conformance cases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from harness.standins.mockllm import _anthropic, create_app
from tests.conftest import serve_in_thread
from tests.specs.documents import spec
from tests.specs.strategies import examples, json_values
from tests.standins.mockllm.test_spec_conformance import ANTHROPIC, GEMINI, GENERATE, OPENAI, Exchange, validate

EXAMPLES = examples(40)
OPERATIONS = [("openai", "/chat/completions", "/v1"), ("openai", "/embeddings", "/v1"),
              ("openai", "/responses", "/v1"), ("anthropic", "/v1/messages", ""),
              ("anthropic", "/v1/messages/count_tokens", "")]
HEADERS = {"openai": OPENAI, "anthropic": ANTHROPIC, "gemini": GEMINI}


@pytest.fixture(scope="module")
def mock() -> Iterator[str]:
    yield serve_in_thread(create_app())


def answered_well(vendor: str, path: str, body: Any, response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code} for {str(body)[:300]}: {response.text[:300]}"
    stream = isinstance(body, dict) and body.get("stream") is True
    validate(Exchange(vendor, "POST", path, body if isinstance(body, dict) else None, stream=stream), response)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize(("vendor", "path", "prefix"), OPERATIONS, ids=[f"{v} {p}" for v, p, _ in OPERATIONS])
def test_generated_requests_get_an_answer_in_the_vendors_schema(mock: str, vendor: str, path: str, prefix: str,
                                                                 mode: GenerationMode) -> None:
    generated_requests_are_answered_well(mock, vendor, path, prefix, mode)


def generated_requests_are_answered_well(mock: str, vendor: str, path: str, prefix: str,
                                         mode: GenerationMode) -> None:
    operation = schemathesis.openapi.from_dict(spec(vendor).document)[path]["POST"]

    @EXAMPLES
    @given(case=operation.as_strategy(generation_mode=mode))
    def property_holds(case: Any) -> None:
        response = httpx.post(mock + prefix + path, content=_encoded(case.body), headers={
            **HEADERS[vendor], "content-type": "application/json"}, timeout=10)
        answered_well(vendor, prefix + path, case.body, response)

    property_holds()


def test_a_mock_that_trusts_its_input_is_caught(mock: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: without its request checks the mock answers some generated bodies with a 500."""
    monkeypatch.setattr(_anthropic, "read", lambda request, model: request.json())
    with pytest.raises(AssertionError, match="500 for"):
        generated_requests_are_answered_well(mock, "anthropic", "/v1/messages", "", GenerationMode.NEGATIVE)


_JSON = json_values(text_size=20)


def _mutations(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """The valid body with one field dropped or replaced by any JSON, or any JSON at all."""
    keys = st.sampled_from(sorted(valid))
    dropped = keys.map(lambda k: {key: value for key, value in valid.items() if key != k})
    replaced = st.tuples(keys, _JSON).map(lambda kv: {**valid, kv[0]: kv[1]})
    return dropped | replaced | _JSON


@EXAMPLES
@given(body=_mutations({**GENERATE, "generationConfig": {"maxOutputTokens": 20}}))
def test_mutated_gemini_requests_get_googles_error_or_an_answer(body: Any) -> None:
    base = _gemini_mock()
    path = "/v1beta/models/gemini-2.0-flash:generateContent"
    response = httpx.post(base + path, content=_encoded(body), headers={**GEMINI, "content-type": "application/json"},
                          timeout=10)
    answered_well("gemini", path, body, response)


_GEMINI: list[str] = []


def _gemini_mock() -> str:
    # one server for every example (a fixture per example would start one each time)
    if not _GEMINI:
        _GEMINI.append(serve_in_thread(create_app()))
    return _GEMINI[0]


def _encoded(body: Any) -> bytes:
    return b"" if body is None else json.dumps(body, default=str).encode()
