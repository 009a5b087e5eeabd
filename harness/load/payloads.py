"""What a load request carries, as data: prompt and output token counts drawn from a distribution,
or a JSONL dataset of recorded prompts replayed in turn (GuideLLM's and GenAI-Perf's inputs).

Gateway CPU grows with the payload (tokenizing hooks, token-estimating rate limits, callbacks that
log the whole body), so a capacity figure from five short prompts overstates what real traffic gets.
Imported by the load generator process as well: nothing here touches the network.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["TokenCount", "read_dataset", "synth_prompt"]

# short common words: one token each for the mock's counter and almost always one for BPE tokenizers
_VOCABULARY = ("the", "of", "and", "to", "in", "is", "it", "for", "on", "with", "as", "at", "by", "from", "this",
               "that", "be", "are", "was", "or", "an", "not", "but", "all", "can", "has", "one", "we", "you",
               "they", "which", "their", "will", "there", "been", "more", "if", "when", "out", "so", "up", "about",
               "into", "than", "them", "its", "over", "only", "new", "some", "time", "could", "these", "two",
               "may", "first", "any", "like", "now", "such", "our", "most")


class TokenCount(BaseModel):
    """A token count per request: `fixed` (mean), `uniform` (min..max), `normal` (mean, spread; clamped to
    min..max) or `histogram` (buckets of [tokens, weight])."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dist: Literal["fixed", "uniform", "normal", "histogram"] = "fixed"
    mean: float | None = Field(None, gt=0)
    spread: float = Field(0.0, ge=0, description="normal: standard deviation")
    min: int = Field(1, ge=1)
    max: int = Field(200_000, ge=1)
    buckets: list[tuple[int, float]] = Field(default_factory=list, description="histogram: [tokens, weight] pairs")

    @model_validator(mode="after")
    def _complete(self) -> TokenCount:
        if self.dist in ("fixed", "normal") and self.mean is None:
            raise ValueError(f"a {self.dist} token count needs mean")
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.dist == "histogram" and (not self.buckets or any(t < 1 or w < 0 for t, w in self.buckets)
                                         or not sum(w for _, w in self.buckets)):
            raise ValueError("a histogram token count needs buckets of [tokens >= 1, weight >= 0], some weight > 0")
        return self

    @classmethod
    def parse(cls, text: str) -> TokenCount:
        """`2000` (fixed), `normal:2000:300` (mean, spread) or `uniform:50:200` (min, max): the CLI's form."""
        parts = text.split(":")
        try:
            if len(parts) == 1:
                return cls(dist="fixed", mean=float(parts[0]))
            if parts[0] == "normal" and len(parts) == 3:
                return cls(dist="normal", mean=float(parts[1]), spread=float(parts[2]))
            if parts[0] == "uniform" and len(parts) == 3:
                return cls(dist="uniform", min=int(parts[1]), max=int(parts[2]))
        except ValueError:
            pass
        raise ValueError(f"token count {text!r}: use N, normal:MEAN:SPREAD or uniform:MIN:MAX")

    def sample(self, rng: random.Random) -> int:
        if self.dist == "fixed":
            value = float(self.mean or 1)
        elif self.dist == "uniform":
            value = rng.uniform(self.min, self.max)
        elif self.dist == "normal":
            value = rng.gauss(float(self.mean or 1), self.spread)
        else:
            value = rng.choices([t for t, _ in self.buckets], weights=[w for _, w in self.buckets])[0]
        return int(min(self.max, max(self.min, round(value))))

    def expected(self) -> float:
        """The mean count (for cost estimates): exact for fixed, uniform and histogram, unclamped for normal."""
        if self.dist == "uniform":
            return (self.min + self.max) / 2
        if self.dist == "histogram":
            total = sum(w for _, w in self.buckets)
            return sum(t * w for t, w in self.buckets) / total
        return float(self.mean or 1)

    def label(self) -> str:
        if self.dist == "fixed":
            return f"{self.mean:g}"
        if self.dist == "uniform":
            return f"uniform {self.min}..{self.max}"
        if self.dist == "normal":
            return f"normal {self.mean:g}±{self.spread:g}"
        return f"histogram of {len(self.buckets)} buckets, mean {self.expected():.0f}"


def synth_prompt(tokens: int, rng: random.Random, nonce: str) -> str:
    """A prompt of `tokens` tokens (the nonce counts as one): common words in a random order."""
    words = [nonce, *rng.choices(_VOCABULARY, k=max(0, tokens - 1))]
    return " ".join(words)


def read_dataset(path: Path) -> list[dict[str, Any]]:
    """The dataset's rows as {messages, output_tokens?}; a bad line is a one-line error naming it."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if "messages" in item:
                messages = list(item["messages"])
            else:
                messages = [{"role": "user", "content": str(item["prompt"])}]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}:{number}: each line needs a JSON object with 'prompt' (text) or 'messages' "
                             "(a chat list)") from None
        row: dict[str, Any] = {"messages": messages}
        if item.get("output_tokens"):
            row["output_tokens"] = int(item["output_tokens"])
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: the dataset has no rows; add JSONL lines like {{\"prompt\": \"...\"}}")
    return rows
