"""Token counting and deterministic replies for the mock providers.

Counts are a word/punctuation split, close to a BPE count for English and stable across runs,
so the gateway's `usage`, the trace and the provider log can be compared exactly.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORDS = [
    "the", "gateway", "answered", "this", "request", "with", "a", "short", "deterministic", "reply", "so",
    "that", "streamed", "and", "plain", "calls", "carry", "identical", "text", "and", "every", "token",
    "can", "be", "counted", "exactly", "by", "the", "harness", "checks", "today",
]


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def content_text(content: Any) -> str:
    """Flattens OpenAI/Anthropic content (a string or a list of typed parts) to its text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(content_text(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def reply_tokens(model: str, prompt: str, count: int) -> list[str]:
    """`count` tokens chosen by a hash of model and prompt: same prompt, same reply."""
    seed = hashlib.blake2b(f"{model}\x00{prompt}".encode(), digest_size=8).digest()
    start = int.from_bytes(seed, "big") % len(_WORDS)
    return [(" " if i else "") + _WORDS[(start + i) % len(_WORDS)] for i in range(count)]


_STOP_WORDS = frozenset({"the", "and", "are", "can", "how", "what", "which", "where", "when", "who", "why", "does",
                         "you", "your", "for", "with", "into", "than", "this", "that", "there", "its", "was", "will"})


def embed(text: str, dimensions: int) -> list[float]:
    """Bag-of-words hashing embedding: texts sharing words are close, unrelated texts are not."""
    vector = [0.0] * dimensions
    for word in _TOKEN.findall(text.lower()):
        # punctuation and short words carry no meaning: counted, "(" ")" "?" made unrelated questions with
        # the same bracketed salt ~0.7 alike, so a semantic cache double hit them (CA-2's control, 1 % of runs)
        if (len(word) < 3 and not word.isdigit()) or word in _STOP_WORDS:
            continue
        stem = word[:6]
        h = int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=8).digest(), "big")
        vector[h % dimensions] += 1.0 if (h >> 32) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
