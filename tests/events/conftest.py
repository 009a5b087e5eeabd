"""An observer rig (the reference observer, or a broken variant) on the tests' own Redis (`redis_url`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.observer import ObserverRig


@pytest.fixture
def rig_factory(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., ObserverRig]]:
    rigs: list[ObserverRig] = []

    def make(*flags: str, start: bool = True, publisher_stream: str | None = None) -> ObserverRig:
        rig = ObserverRig(redis_url, tmp_path / f"rig-{len(rigs)}", flags, publisher_stream=publisher_stream)
        rigs.append(rig)
        if start:
            rig.start()
        return rig

    yield make
    for rig in rigs:
        rig.close()
