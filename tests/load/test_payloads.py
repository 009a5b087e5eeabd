"""Payloads as data: token counts drawn from their distributions, datasets read with a named error."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.load.payloads import TokenCount, read_dataset, synth_prompt
from harness.standins.mockllm.text import count_tokens


@pytest.mark.parametrize("text,mean", [("2000", 2000), ("normal:2000:300", 2000), ("uniform:50:150", 100)])
def test_token_counts_parse_and_draw_around_their_mean(text: str, mean: float) -> None:
    count = TokenCount.parse(text)
    rng = random.Random(1)
    draws = [count.sample(rng) for _ in range(4000)]
    assert count.expected() == mean and abs(sum(draws) / len(draws) - mean) < 0.02 * mean


def test_a_histogram_draws_only_its_buckets() -> None:
    count = TokenCount(dist="histogram", buckets=[(100, 3), (1000, 1)])
    draws = [count.sample(random.Random(i)) for i in range(2000)]
    assert set(draws) == {100, 1000} and 0.7 < draws.count(100) / len(draws) < 0.8
    assert count.expected() == 325


@pytest.mark.parametrize("text", ["", "lots", "normal:1", "uniform:9:1", "-5"])
def test_a_bad_token_count_is_named(text: str) -> None:
    with pytest.raises(ValueError):
        TokenCount.parse(text)


def test_a_synthetic_prompt_has_the_drawn_length() -> None:
    assert count_tokens(synth_prompt(2000, random.Random(0), "abc123")) == 2000


def test_the_shipped_dataset_reads(tmp_path: Path) -> None:
    rows = read_dataset(Path(__file__).resolve().parents[2] / "scenarios" / "load" / "prompts.jsonl")
    assert len(rows) >= 10 and all(r["messages"][-1]["role"] == "user" for r in rows)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"text": "no prompt"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: each line needs"):
        read_dataset(bad)
