"""RT-1..RT-3, E2E-1, RT-4 and E2E-2 PASS on the shared embedded stack and FAIL on broken variants: a
slow gateway (RT-1), a router without the keyword rule (RT-2), one without a reason (RT-3), one without
a timeout of its own (RT-4), a bot that swallows the router's errors (E2E-2), and a router that logs
errors (E2E-1)."""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness._proc import Supervisor, free_port
from harness.chaos import expand, load_scenarios, run_case
from harness.checks import routing
from harness.providers.processes import bot_polling, http_ok
from harness.stack import ServiceLogs, Stack
from harness.target import REPO

Variant = Callable[..., Stack]


@pytest.fixture
def variant(stack: Stack) -> Iterator[Variant]:
    """The shared stack with its router or its bot (and the Bot API stand-in it polls) replaced by a
    broken variant; the gateway, Langfuse and the fault proxies stay the shared stack's."""
    folder = Path(tempfile.mkdtemp(prefix="harness-routing-"))
    supervisor = Supervisor(folder)
    supervisor.guard_dir(folder)
    master = stack.master_key.get_secret_value() if stack.master_key else ""
    started = 0

    def make(*, router: tuple[str, ...] | None = None, bot: tuple[str, ...] | None = None) -> Stack:
        nonlocal started
        started += 1
        target = stack.target
        if router is not None:
            port = free_port()
            # through the shared "gateway" fault proxy, as the reference router, so a toxic there slows it
            gateway = f"http://{stack.faults['gateway'].address}"
            service = supervisor.start(f"router-{started}", [sys.executable, str(REPO / "stack/router/router.py"),
                                                             "--port", str(port), "--gateway", gateway,
                                                             "--timeout", "5", *router],
                                       env={"LITELLM_MASTER_KEY": master})
            supervisor.ready(service, lambda: http_ok(f"http://127.0.0.1:{port}/health"), 30)
            target = target.model_copy(update={"router_url": f"http://127.0.0.1:{port}/webhook/litellm-route"})
        if bot is not None:
            port_file = folder / f"telegram-{started}.port"
            token = f"{4000 + started}:variant-token-{started}"
            api = supervisor.start(f"telegram-{started}", [sys.executable, "-m", "harness.standins.telegram",
                                                           "--port-file", str(port_file)],
                                   env={"TELEGRAM_BOT_TOKEN": token})
            supervisor.ready(api, port_file.exists, 15)
            url = f"http://127.0.0.1:{port_file.read_text()}"
            # the variant bot calls the variant router, else the shared one through its "router" fault proxy
            router_hop = target.router_url if router is not None else \
                f"http://{stack.faults['router'].address}/webhook/litellm-route"
            service = supervisor.start(f"bot-{started}", [sys.executable, str(REPO / "stack/bot/bot.py"), "--api", url,
                                                          "--router", router_hop, "--timeout", "10", *bot],
                                       env={"TELEGRAM_BOT_TOKEN": token})
            supervisor.ready(service, lambda: bot_polling(url), 30)
            target = target.model_copy(update={"telegram_url": url})
        return dataclasses.replace(stack, target=target, logs=ServiceLogs(folder=folder))

    yield make
    supervisor.close()


def test_every_check_passes_on_the_reference_router_and_bot(stack: Stack) -> None:
    outcomes = [*routing.routing_matrix(stack), routing.bot_round_trip(stack)]
    assert all(outcomes), [o.summary() for o in outcomes if not o]


def test_rt2_fails_when_the_router_has_no_keyword_rule(variant: Variant) -> None:
    outcomes = routing.routing_matrix(variant(router=("--fault", "no-keyword-rule")))
    rt2 = {o.case.split()[0]: o for o in outcomes if o.id == "RT-2"}
    assert not rt2["keyword"].passed and rt2["keyword"].measured == {"response": "gemini-2", "trace": "gemini-2"}
    assert rt2["simple"].passed and rt2["long"].passed  # only the broken rule fails


def test_rt1_fails_when_the_gateway_behind_the_router_is_slow(stack: Stack) -> None:
    limit = stack.target.threshold("RT-1")
    # slower than RT-1's limit, faster than the router's own timeout: every answer arrives, too late
    with stack.faults["gateway"].toxic("latency", {"latency": int(limit * 1000) + 500}):
        outcomes = routing.routing_matrix(stack)
    rt1 = [o for o in outcomes if o.id == "RT-1"]
    assert len(rt1) == 3 and not any(rt1), [o.summary() for o in rt1]
    assert all(o.measured > limit for o in rt1)
    assert all(o for o in outcomes if o.id != "RT-1")  # the routes and reasons are still right


def test_rt3_fails_when_the_router_gives_no_reason(variant: Variant) -> None:
    outcomes = routing.routing_matrix(variant(router=("--fault", "no-reason")))
    rt3 = [o for o in outcomes if o.id == "RT-3"]
    assert len(rt3) == 3 and not any(rt3), [o.summary() for o in rt3]
    assert all(o for o in outcomes if o.id == "RT-2")


def _scenario(name: str, stack: Stack) -> list[object]:
    return expand(load_scenarios(REPO / "scenarios"), stack.target, only=name)


def test_service_scenarios_pass_on_the_reference_stack(stack: Stack) -> None:
    for case in [*_scenario("router-upstream", stack), *_scenario("bot-router-down", stack)]:
        run = run_case(stack, case)
        assert run.outcomes and all(run.outcomes), [o.summary() for o in run.outcomes]


def test_e2e2_fails_when_the_bot_swallows_router_errors(variant: Variant) -> None:
    broken = variant(bot=("--fault", "swallow-errors"))
    (case,) = [c for c in _scenario("bot-router-down", broken) if c.variant == "refused"]
    (outcome,) = run_case(broken, case).outcomes
    assert not outcome.passed and outcome.measured is None and "silence" in outcome.detail, outcome.summary()


def test_e2e1_fails_when_a_service_logs_an_error(variant: Variant) -> None:
    outcome = routing.bot_round_trip(variant(router=("--fault", "error-log"), bot=()))
    assert not outcome.passed and outcome.measured["error_lines"] >= 1, outcome.summary()
    assert outcome.measured["reply_after_s"] is not None  # the trip itself worked: only the log fails it


def test_rt4_fails_when_the_router_waits_on_a_hung_gateway(variant: Variant) -> None:
    # the router's own timeout is far past RT-4's limit: against a hung gateway the caller waits too
    broken = variant(router=("--timeout", "120"))
    (case,) = [c for c in _scenario("router-upstream", broken) if c.variant == "slow"]
    (outcome,) = run_case(broken, case).outcomes
    limit = broken.target.router_timeout_s + broken.target.threshold("RT-4")
    assert not outcome.passed and outcome.measured > limit, outcome.summary()
