"""The event checks on the deployment's own pipeline: an observer the test starts as "the user's" (the
reference observer, or a broken variant) is reached only through what a target's `events:` section gives,
its stream, consumer group and truth remote (and audit log, change requests where given)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import registry
from harness.observer import IDENTITY_EMAIL, ObserverRig
from harness.pipeline import UserPipeline
from harness.registry import MissingCapability
from harness.sections import EventsTarget
from harness.stack import Stack
from harness.target import REPO, Target

RUNS_ON_PIPELINE = ("EV-1", "EV-2", "OBV-1", "OBV-2", "GIT-1", "GIT-2", "GIT-3")


def _events(rig: ObserverRig, **extra: Any) -> dict[str, Any]:
    """What an operator writes in the target about their observer: nothing of the process itself."""
    return {"redis_url": rig.redis_url, "stream": rig.stream, "truth_remote": str(rig.remote),
            "observer_identity": IDENTITY_EMAIL, "audit_log": str(rig.audit), "change_requests": str(rig.changes),
            "settle_s": 10.0, **extra}


def _decide(ident: str, events: dict[str, Any], folder: Path) -> list[Any]:
    target = Target(provider="external", events=EventsTarget.model_validate(events))
    pipeline = UserPipeline(target.events, folder)  # type: ignore[arg-type]
    try:
        return registry.run(ident, Stack.over(target), {"pipeline": pipeline})
    finally:
        pipeline.close()


def test_the_users_observer_passes_every_check_it_can_be_judged_on(rig_factory: Callable[..., ObserverRig],
                                                                    tmp_path: Path) -> None:
    events = _events(rig_factory())
    for ident in RUNS_ON_PIPELINE:
        outcomes = _decide(ident, events, tmp_path / ident)
        assert outcomes and all(o.passed for o in outcomes), [o.summary() for o in outcomes]
    with pytest.raises(MissingCapability, match=r"compose\.services\.observer"):  # SIGKILLs need its process
        _decide("OBV-3", events, tmp_path / "obv3")


def test_an_observer_that_applies_a_redelivered_event_twice_fails_git3(rig_factory: Callable[..., ObserverRig],
                                                                        tmp_path: Path) -> None:
    broken = rig_factory("--no-idempotency", "--fault", "apply-stale")
    [outcome] = _decide("GIT-3", _events(broken), tmp_path / "git3")
    assert not outcome.passed and outcome.measured["commits"] == 2, outcome.summary()


def test_without_audit_log_or_change_requests_those_checks_skip_naming_the_field(
        rig_factory: Callable[..., ObserverRig], tmp_path: Path) -> None:
    events = _events(rig_factory(), audit_log=None, change_requests=None)
    with pytest.raises(MissingCapability, match=r"events\.audit_log"):
        _decide("OBV-2", events, tmp_path / "obv2")
    with pytest.raises(MissingCapability, match=r"events\.change_requests"):
        _decide("OBV-1", events, tmp_path / "obv1")
    [git3] = _decide("GIT-3", events, tmp_path / "git3")  # judged on the remote alone, and says so
    assert git3.passed and git3.evidence["judged_on"] == ["the remote"], git3.summary()


def test_a_broken_pipeline_fails_the_checks_that_see_it(rig_factory: Callable[..., ObserverRig],
                                                        tmp_path: Path) -> None:
    failures = {"GIT-1": ("--fault", "no-push"), "OBV-1": ("--fault", "apply-stale"),
                "GIT-2": ("--fault", "ignore-approval"), "OBV-2": ("--fault", "rewrite-audit")}
    for ident, flags in failures.items():
        [outcome] = _decide(ident, _events(rig_factory(*flags)), tmp_path / ident)
        assert not outcome.passed, outcome.summary()


def test_acceptance_on_a_deployment_target_judges_its_own_observer(stack: Stack, rig_factory: Callable[
        ..., ObserverRig], tmp_path: Path) -> None:
    """Through `harness acceptance`: the target is the stack seen from outside plus its `events:` section."""
    document = {**stack.target_document(), "events": _events(rig_factory())}
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    target.chmod(0o600)
    reports = tmp_path / "reports"
    result = subprocess.run([sys.executable, "-m", "harness.cli", "acceptance", "--target", str(target), "--reports",
                             str(reports), "-k", "test_events"], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "COLUMNS": "200"}, timeout=600)
    data = json.loads((reports / "latest" / "results.json").read_text())
    status = {r["id"]: r["status"] for r in data["records"]}
    assert {i: status.get(i) for i in RUNS_ON_PIPELINE} == dict.fromkeys(RUNS_ON_PIPELINE, "PASS"), \
        [(r["id"], r["detail"]) for r in data["records"]]
    assert status["OBV-3"] == "SKIP" and result.returncode == 0, result.stdout[-2000:]
    assert (reports / "latest" / "events-user" / "truth-mirror.git").is_dir()
