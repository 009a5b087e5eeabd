"""The open-loop shape: lanes are spawned once and never respawned, whatever counts a busy master reports.

`harness.load.users` imports Locust (and gevent's patching), so it runs in a child process here."""

from __future__ import annotations

import json
import subprocess
import sys

_TICKS = """
import json, sys
from harness.load.users import RunShape
counts, times = json.loads(sys.argv[1]), json.loads(sys.argv[2])
RunShape.lanes, RunShape.deadline_s = 2, 30.0
shape = RunShape.__new__(RunShape)
ticks = []
for count, elapsed in zip(counts, times):
    shape.get_current_user_count = lambda count=count: count
    shape.get_run_time = lambda elapsed=elapsed: elapsed
    ticks.append(shape.tick())
print(json.dumps(ticks))
"""


def _ticks(counts: list[int], times: list[float]) -> list[list[float] | None]:
    out = subprocess.run([sys.executable, "-c", _TICKS, json.dumps(counts), json.dumps(times)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out)


def test_a_stale_count_does_not_respawn_a_lane() -> None:
    # a worker's report arrives late: the master counts 1 user at 2 s, then 2 again
    ticks = _ticks([0, 2, 1, 2, 2], [0.0, 1.0, 2.0, 3.0, 4.0])
    assert ticks == [[2, 2.0]] * 5  # one start() call only: Locust calls start() whenever the tick changes


def test_the_run_ends_when_every_lane_is_done_or_at_the_deadline() -> None:
    assert _ticks([0, 0, 0], [0.0, 3.0, 5.0]) == [[2, 2.0]] * 3  # not before the lanes were seen
    assert _ticks([2, 1, 0], [1.0, 6.0, 7.0])[-1] is None
    assert _ticks([0, 1], [1.0, 31.0])[-1] is None
