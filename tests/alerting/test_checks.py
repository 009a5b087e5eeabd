"""Negative controls for the live alert checks, on the shared embedded stack: a rule whose expression
cannot match never fires (AL-1 FAILs), and a receiver that never sends resolves FAILs AL-5. The
passing run is `harness alerting` (tests/test_cli.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from harness.alerting import AlertingRig
from harness.checks import alerting
from harness.stack import Stack
from harness.target import AlertingSettings

Rig = Callable[[Mapping[str, Callable[[str], str]]], AlertingRig]


@pytest.fixture
def fast(stack: Stack) -> Stack:
    """The shared stack judged at 1/60 of the plans' windows, and AL-5 at 7 s (a resolve takes ~5 s there:
    one 5 s group interval), so a control that waits for nothing is short."""
    target = stack.target.model_copy(update={"alerting": AlertingSettings(time_scale=1 / 60),
                                             "thresholds": {**stack.target.thresholds, "AL-5": 420.0}})
    return dataclasses.replace(stack, target=target)


@pytest.fixture
def rig_for(fast: Stack, tmp_path: Path) -> Iterator[Rig]:
    rigs: list[AlertingRig] = []

    def make(rewrite: Mapping[str, Callable[[str], str]]) -> AlertingRig:
        rig = AlertingRig(fast, tmp_path / f"alerting-{len(rigs)}", rewrite)
        rigs.append(rig)
        rig.start()
        assert rig.settled(60), rig.targets_up()
        return rig

    yield make
    for rig in rigs:
        rig.close()


def test_a_rule_with_a_wrong_expression_never_fires(fast: Stack, rig_for: Rig) -> None:
    # the exporter's job is "redis": a rule written for another job name is valid PromQL that matches nothing
    right = "expr: redis_up == 0 or up{job=\"redis\"} == 0"
    rig = rig_for({"rules.yml": lambda text: text.replace(right, "expr: redis_up{job=\"cache\"} == 0")})
    sink = fast.alerts()
    assert sink is not None
    outcome, fired = alerting.cache_down(fast)(rig, sink)
    assert not outcome.passed and outcome.measured["notified_after_s"] is None, outcome.summary()
    assert not alerting.resolved(fast, sink, fired).passed


def test_a_receiver_that_never_sends_resolves_fails_al5(fast: Stack, rig_for: Rig) -> None:
    rig = rig_for({"alertmanager.yml": lambda text: text.replace("send_resolved: true", "send_resolved: false")})
    sink = fast.alerts()
    assert sink is not None
    outcome, fired = alerting.cache_down(fast)(rig, sink)
    assert outcome.measured["channels"] == ["email", "telegram"], outcome.summary()  # it did fire
    limit = fast.target.alerting.scaled(fast.target.threshold("AL-5"))
    resolved = alerting.resolved(fast, sink, fired, timeout_s=limit + 2)
    assert not resolved.passed and resolved.measured["resolved_after_s"] is None, resolved.summary()
