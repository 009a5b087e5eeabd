"""CA-2 against test-double gateways: LiteLLM's semantic caches need Redis with the search module or
Qdrant, neither installable here, so the check's PASS and FAIL paths are proven on doubles that
answer the way LiteLLM does on a semantic hit (the cache key header)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from harness._http import App, Request, Response, json_response
from harness.checks import cache
from harness.results import NotApplicable
from harness.stack import Stack
from harness.standins.mockllm.text import embed
from harness.target import Endpoint, Target


def _double(similarity: float) -> App:
    """A gateway whose cache answers any prompt at least `similarity` close to an earlier one."""
    app, seen = App(), []

    @app.route("POST", "/v1/chat/completions")
    async def chat(request: Request) -> Response:
        text = request.json()["messages"][-1]["content"]
        vector = embed(text, 512)
        best = max((sum(a * b for a, b in zip(vector, old, strict=True)) for old in seen), default=-math.inf)
        headers = {"x-litellm-cache-key": "k"} if best >= similarity else {}
        seen.append(vector)
        return json_response({"choices": [{"message": {"content": "ok"}}]}, headers=headers)

    return app


def _stack(url: str, semantic: bool = True) -> Stack:
    return Stack.over(Target.embedded().model_copy(update={"semantic_cache": semantic,
                                                           "gateway": Endpoint(url=url)}))


def test_ca2_passes_on_a_working_semantic_cache(serve_app: Callable[[App], str]) -> None:
    outcome = cache.semantic_hits(_stack(serve_app(_double(0.7))))
    assert outcome.passed, outcome.summary()
    assert outcome.measured["hit_rate"] >= 0.3 and outcome.measured["unrelated_hits"] == 0


def test_ca2_fails_when_nothing_hits(serve_app: Callable[[App], str]) -> None:
    outcome = cache.semantic_hits(_stack(serve_app(_double(1.01))))
    assert not outcome.passed and outcome.measured["hit_rate"] == 0


def test_ca2_fails_when_unrelated_prompts_hit(serve_app: Callable[[App], str]) -> None:
    outcome = cache.semantic_hits(_stack(serve_app(_double(-1.0))))
    assert not outcome.passed and outcome.measured["unrelated_hits"] == len(cache.UNRELATED)


def test_ca2_is_not_applicable_without_a_semantic_cache() -> None:
    with pytest.raises(NotApplicable, match="Redis with the search module or Qdrant"):
        cache.semantic_hits(_stack("http://127.0.0.1:9", semantic=False))
