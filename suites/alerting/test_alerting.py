"""Alerting (VPS plan slice 11, Fly.io plan "Monitoring & Alerts"): AL-1..AL-5 with Prometheus,
Alertmanager and the exporters from Debian, started for this suite only, around the stack under test.

Each condition is caused for real and timed to the notification; the resolves (AL-5) are read last,
so their waits overlap the next cases instead of adding to the run.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.alerting import AlertingRig
from harness.alerting.rig import MissingAlerting
from harness.checks import alerting
from harness.results import NotApplicable, Outcome
from harness.stack import Stack
from harness.standins.alerts import AlertSink

Record = Callable[[Outcome], Outcome]


@pytest.fixture(scope="module")
def rig(stack: Stack, run_dir: Path) -> Iterator[AlertingRig]:
    try:
        made = AlertingRig(stack, run_dir / "alerting").start()
    except MissingAlerting as exc:
        pytest.exit(f"cannot start the alerting stack: {exc}", returncode=3)
    if not made.settled(60):
        made.close()
        pytest.exit(f"the alerting stack never scraped every target: {made.targets_up()}", returncode=3)
    # one call per chat model first: a gateway's first call to each provider takes seconds (imports,
    # connections), which would count as alerting delay in whichever case runs first
    with stack.gateway() as gateway:
        for model in stack.target.chat_models():
            gateway.chat(model.name, "warm-up")
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def sink(stack: Stack) -> AlertSink:
    found = stack.alerts()
    if found is None:
        raise NotApplicable("the alert checks need the stack's notification sink (alerts_url)")
    return found


@pytest.fixture(scope="module")
def fired() -> list[alerting.Fired]:
    return []


# in this order: the gateway stop comes last, as it blinds every other rule while it lasts
CASES = [pytest.param(alerting.error_rate, id="error-rate", marks=pytest.mark.criterion("AL-2")),
         pytest.param(alerting.latency, id="latency", marks=pytest.mark.criterion("AL-3")),
         pytest.param(alerting.quota, id="quota", marks=pytest.mark.criterion("AL-4")),
         pytest.param(alerting.cache_down, id="cache-down", marks=pytest.mark.criterion("AL-1")),
         pytest.param(alerting.daily_spend, id="daily-spend", marks=pytest.mark.criterion("AL-4")),
         pytest.param(alerting.gateway_down, id="gateway-down", marks=pytest.mark.criterion("AL-1"))]


@pytest.mark.parametrize("make", CASES)
def test_alert_fires(make: Callable[[Stack], alerting.Case], stack: Stack, rig: AlertingRig, sink: AlertSink,
                     fired: list[alerting.Fired], record: Record) -> None:
    outcome, done = make(stack)(rig, sink)
    fired.append(done)
    assert record(outcome), outcome.summary()


@pytest.mark.criterion("AL-5")
def test_every_alert_resolves(stack: Stack, sink: AlertSink, fired: list[alerting.Fired], record: Record) -> None:
    if not fired:
        raise NotApplicable("no alert case ran")
    # a day's spend stays over the limit for the rest of the day: that alert is not expected to resolve
    outcomes = [record(alerting.resolved(stack, sink, case)) for case in fired if case.resolvable]
    assert all(outcomes), "; ".join(o.summary() for o in outcomes if not o)
