"""Hypothesis stateful test: any interleaving of publish, observer crash (at any effect), restart and
approve ends in the model's git state and audit log. The observer runs in-process; a crash is an
exception thrown from inside one of its effects, after which a fresh observer takes over."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from harness.observer import OBSERVER_DIR, init_truth_repo, make_event

sys.path.insert(0, str(OBSERVER_DIR))
_spec = importlib.util.spec_from_file_location("reference_observer", OBSERVER_DIR / "observer.py")
assert _spec is not None and _spec.loader is not None
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)

AGGREGATES = ("project:a", "project:b")
CRASH_POINTS = ("audit", "git add", "git commit", "ack")


class Crash(Exception):
    """Stands for SIGKILL: the observer stops in the middle of an effect."""


class ObserverMachine(RuleBasedStateMachine):
    redis_url = ""
    folder = Path()

    def __init__(self) -> None:
        super().__init__()
        self.dir = self.folder / uuid.uuid4().hex[:8]
        self.dir.mkdir(parents=True)
        self.repo = init_truth_repo(self.dir / "truth")
        self.client = redis.Redis.from_url(self.redis_url)
        self.stream = f"model_{uuid.uuid4().hex[:8]}"
        self.observer = self._fresh()
        # the model: events in stream order, which are processed, and what the truth should become
        self.published: list[dict[str, Any]] = []
        self.processed = 0
        self.versions = dict.fromkeys(AGGREGATES, 0)
        self.applied: dict[str, list[str]] = {a: [] for a in AGGREGATES}
        self.pending: dict[str, dict[str, Any]] = {}
        self.approved: list[str] = []
        self.drifted: set[str] = set()

    def _fresh(self) -> Any:
        observer = reference.Observer(self.client, self.repo, self.dir / "audit.jsonl", self.dir / "changes",
                                      stream=self.stream, claim_idle_ms=60_000, push=False)
        observer.setup()
        return observer

    # the model's reading of one step: entries in order, then approvals recorded so far

    def _model_step(self) -> None:
        for event in self.published[self.processed:]:
            aggregate = event["aggregate_id"]
            if event["version"] != self.versions[aggregate]:
                self.drifted.add(event["event_id"])
            elif event["metadata"]["approval_required"]:
                self.pending[event["event_id"]] = event
            else:
                self.applied[aggregate].append(event["event_id"])
                self.versions[aggregate] += 1
        self.processed = len(self.published)
        order = {e["event_id"]: i for i, e in enumerate(self.published)}
        for event_id in sorted(self.approved, key=order.__getitem__):  # the observer applies in stream order
            event = self.pending.pop(event_id)
            aggregate = event["aggregate_id"]
            if event["version"] == self.versions[aggregate]:
                self.applied[aggregate].append(event_id)
                self.versions[aggregate] += 1
        self.approved.clear()

    @rule(aggregate=st.sampled_from(AGGREGATES), stale=st.booleans(), approval=st.booleans())
    def publish(self, aggregate: str, stale: bool, approval: bool) -> None:
        # based on what the agent last saw: the applied version, or an older one when stale
        version = max(0, self.versions[aggregate] - 1) if stale else self.versions[aggregate] + sum(
            1 for e in self.published[self.processed:] if e["aggregate_id"] == aggregate
            and not e["metadata"]["approval_required"])
        event = make_event(aggregate, version, approval=approval)
        reference_schema = sys.modules["event_schema"]
        reference_schema.publish(self.client, event, stream=self.stream)
        self.published.append(event)

    @rule()
    def step(self) -> None:
        while self.observer.step(block_ms=1):
            pass
        self._model_step()

    @rule(point=st.sampled_from(CRASH_POINTS))
    def crash_and_restart(self, point: str) -> None:
        observer = self.observer
        original_git, original_audit, original_ack = observer._git, observer._audit, observer.r.xack

        def git(*args: str) -> None:
            if " ".join(("git", args[0])) == point:
                if point == "git commit":
                    original_git(*args)  # the commit lands, the crash comes right after it
                raise Crash(point)
            original_git(*args)

        def audit(event: Any) -> None:
            original_audit(event)
            raise Crash(point)

        def ack(*args: Any) -> Any:
            raise Crash(point)

        observer._git = git
        if point == "audit":
            observer._audit = audit
        if point == "ack":
            observer.r = _AckCrasher(observer.r, ack)
        try:
            while observer.step(block_ms=1):
                pass
        except Crash:
            pass
        observer._lock.close()  # what the kernel does for a dead process
        observer.r = self.client
        _ = original_ack
        # the restarted observer recovers before anything else happens: crash + restart + recovery is, to
        # the model, one whole step (entries in order, then approvals)
        self.observer = self._fresh()
        while self.observer.step(block_ms=1):
            pass
        self._model_step()

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data())
    def approve(self, data: st.DataObject) -> None:
        event_id = data.draw(st.sampled_from(sorted(self.pending)))
        if event_id in self.approved:
            return
        self.client.set(f"approvals:{event_id}", "approve:model")
        self.approved.append(event_id)

    @invariant()
    def audit_never_repeats(self) -> None:
        ids = [json.loads(line)["event_id"] for line in (self.dir / "audit.jsonl").read_text().splitlines()]
        assert len(ids) == len(set(ids))

    def teardown(self) -> None:
        try:
            while self.observer.step(block_ms=1):
                pass
            self._model_step()
            for aggregate in AGGREGATES:
                state = self.observer.aggregate(aggregate)
                assert state["applied"] == self.applied[aggregate], aggregate
                assert state["version"] == self.versions[aggregate]
            log = subprocess.run(["git", "-C", str(self.repo), "log", "--format=%(trailers:key=Event-Id,valueonly)"],
                                 capture_output=True, text=True, check=True).stdout.split()
            assert sorted(log) == sorted(e for ids in self.applied.values() for e in ids)
            ids = [json.loads(line)["event_id"] for line in (self.dir / "audit.jsonl").read_text().splitlines()]
            assert sorted(ids) == sorted(e["event_id"] for e in self.published)
            requests = {p.stem: json.loads(p.read_text())["kind"] for p in (self.dir / "changes").glob("*.json")}
            assert {e for e, kind in requests.items() if kind == "drift"} == self.drifted
        finally:
            self.observer._lock.close()
            self.client.delete(self.stream)
            self.client.close()


class _AckCrasher:
    """The observer's Redis client, except that XACK crashes (the effect is never sent)."""

    def __init__(self, inner: Any, ack: Any) -> None:
        self._inner, self.xack = inner, ack

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def machine(redis_url: str, tmp_path: Path) -> type[ObserverMachine]:
    ObserverMachine.redis_url, ObserverMachine.folder = redis_url, tmp_path
    return ObserverMachine


def test_observer_matches_its_model(machine: type[ObserverMachine]) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    # no shrinking phase: a failure prints its whole sequence, and a CI run stays bounded in time
    run_state_machine_as_test(machine, settings=settings(
        max_examples=10, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate]))
