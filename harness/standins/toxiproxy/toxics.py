"""Toxics: their attributes (Toxiproxy's names, units and defaults) and what each does to a chunk.

A toxic is a stage of a link's chain, written as an async generator from one chunk to the chunks
it lets through; `Close` and `Reset` end the connection. Units follow Toxiproxy 2.x: ms for
latency, jitter, timeouts and slow_close; µs for slicer delay; KB/s (K = 1000) for bandwidth.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ATTRIBUTES", "Chunk", "Close", "LinkState", "Reset", "Toxic", "run_toxic"]

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
    "noop": (),
}


@dataclass(slots=True)
class Chunk:
    """Bytes read from the source at `ts` (monotonic seconds); `data is None` is the end of stream."""

    data: bytes | None
    ts: float


class Close(Exception):
    """The toxic ends the connection with a normal close (FIN)."""


class Reset(Exception):
    """The toxic ends the connection with a reset (RST), as reset_peer does."""


@dataclass(eq=False)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]
    generation: int = 0
    removed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def direction(self) -> str:
        return self.stream.lower()

    def to_json(self) -> dict[str, Any]:
        return {"attributes": dict(self.attributes), "name": self.name, "type": self.type, "stream": self.stream,
                "toxicity": int(self.toxicity) if self.toxicity == int(self.toxicity) else self.toxicity}


@dataclass
class LinkState:
    """Per-link, per-toxic state: the toxicity roll, limit_data's count, bandwidth's timing debt."""

    rolled: dict[int, tuple[int, bool]] = field(default_factory=dict)
    counted: dict[int, int] = field(default_factory=dict)
    debt_ms: dict[int, float] = field(default_factory=dict)

    def active(self, toxic: Toxic, rng: random.Random) -> bool:
        """Toxicity is rolled once per link when the toxic starts on it, and again after an update."""
        roll = self.rolled.get(id(toxic))
        if roll is None or roll[0] != toxic.generation:
            roll = (toxic.generation, rng.random() < toxic.toxicity)
            self.rolled[id(toxic)] = roll
        return roll[1]


async def _sleep_unless_removed(toxic: Toxic, seconds: float) -> None:
    """Removing a toxic releases what it holds at once; data is never dropped by a removal."""
    if seconds <= 0 or toxic.removed.is_set():
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(toxic.removed.wait(), seconds)


async def run_toxic(toxic: Toxic, chunk: Chunk, state: LinkState, rng: random.Random) -> AsyncIterator[Chunk]:
    kind, attrs = toxic.type, toxic.attributes
    if kind == "latency":
        if chunk.data is not None:
            jitter = attrs["jitter"]
            delay = attrs["latency"] + (rng.randrange(2 * jitter) - jitter if jitter > 0 else 0)
            wait = delay / 1000.0 - (time.monotonic() - chunk.ts)
            await _sleep_unless_removed(toxic, wait)
            chunk = Chunk(chunk.data, chunk.ts + max(wait, 0.0))
        yield chunk
    elif kind == "bandwidth":
        async for piece in _bandwidth(toxic, chunk, state):
            yield piece
    elif kind == "slow_close":
        if chunk.data is None:
            await _sleep_unless_removed(toxic, attrs["delay"] / 1000.0)
        yield chunk
    elif kind == "slicer":
        if chunk.data is None:
            yield chunk
            return
        for piece in _slices(chunk.data, attrs["average_size"], attrs["size_variation"], rng):
            yield Chunk(piece, chunk.ts)
            if attrs["delay"] > 0:
                await asyncio.sleep(attrs["delay"] / 1_000_000)
    elif kind == "timeout":
        if chunk.data is None:
            raise Close
        return  # data in this direction is read and dropped; the link's timer closes it
    elif kind == "reset_peer":
        await asyncio.sleep(attrs["timeout"] / 1000.0)  # not interruptible, as in Toxiproxy
        raise Reset
    elif kind == "limit_data":
        if chunk.data is None:
            yield chunk
            return
        sent = state.counted.get(id(toxic), 0)
        remaining = attrs["bytes"] - sent
        if remaining <= 0:
            raise Close
        piece = chunk.data[:remaining]
        state.counted[id(toxic)] = sent + len(piece)
        yield Chunk(piece, chunk.ts)
        if len(piece) >= remaining:
            raise Close
    else:
        yield chunk


async def _bandwidth(toxic: Toxic, chunk: Chunk, state: LinkState) -> AsyncIterator[Chunk]:
    if chunk.data is None:
        yield chunk
        return
    rate = toxic.attributes["rate"]  # bytes per ms
    if rate <= 0:
        await toxic.removed.wait()  # rate 0 holds the data until the toxic is removed (Toxiproxy stalls)
        yield chunk
        return
    data = chunk.data
    debt = state.debt_ms.get(id(toxic), 0.0) + len(data) / rate
    while len(data) > rate * 100 and not toxic.removed.is_set():
        await asyncio.sleep(0.1)
        yield Chunk(data[: rate * 100], chunk.ts)
        data = data[rate * 100:]
        debt -= 100
    started = time.monotonic()
    await _sleep_unless_removed(toxic, debt / 1000.0)
    debt -= (time.monotonic() - started) * 1000.0
    state.debt_ms[id(toxic)] = debt
    yield Chunk(data, chunk.ts)


def _slices(data: bytes, average: int, variation: int, rng: random.Random) -> list[bytes]:
    """Recursive halving as Toxiproxy's slicer does; sizes are clamped so it cannot recurse forever."""
    average = max(average, 1)
    variation = min(max(variation, 0), average - 1)
    out: list[bytes] = []
    stack = [data]
    while stack:
        segment = stack.pop()
        if len(segment) - average <= variation:
            out.append(segment)
            continue
        mid = len(segment) // 2 + (rng.randrange(2 * variation) - variation if variation > 0 else 0)
        mid = min(max(mid, 1), len(segment) - 1)
        stack.append(segment[mid:])
        stack.append(segment[:mid])
    return out
