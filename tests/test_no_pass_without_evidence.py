"""No PASS without its evidence: every registered check, run against the lying gateway (tests/doubles.py) with
each capability taken away in turn, ends FAIL or SKIP, never PASS. A check that forgets to decide on real
evidence when one source is missing fails this test."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import registry
from harness.checks import cache
from harness.registry import MissingCapability
from harness.results import Outcome
from harness.stack import Stack
from tests.conftest import serve_in_thread
from tests.doubles import lying_stacks

# decided on a rig the harness builds, or on services a lying gateway cannot stand in for; each has its
# negative controls where it is tested
EXEMPT = {
    "RT-1": "the routing webhook (tests/checks/test_routing.py)", "RT-2": "the routing webhook",
    "RT-3": "the routing webhook", "E2E-1": "the chat bot (tests/checks/test_routing.py)",
    "BUD-1": "a stack the harness started (tests/checks/test_breadth.py)",
    **dict.fromkeys(("BK-1", "BK-2", "BK-3", "BK-4"), "the backup rig (tests/checks/test_backup.py)"),
    **dict.fromkeys(("EV-1", "EV-2", "OBV-1", "OBV-2", "OBV-3", "GIT-1", "GIT-2", "GIT-3"),
                    "the observer rig (tests/events/)"),
}


@pytest.fixture(scope="module")
def liars(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[dict[str, Stack]]:
    yield lying_stacks(serve_in_thread, tmp_path_factory.mktemp("liar"), redis_url)


def false_passes(stacks: dict[str, Stack], idents: list[str]) -> tuple[list[str], set[str]]:
    """The (criterion, stack) pairs that PASSed against the liar, and the criteria that ran at least once.
    One thread per stack: the checks mostly wait (for traces that never come), and each call carries a nonce."""

    def on(name: str) -> tuple[list[str], set[str]]:
        passed, ran = [], set()
        for ident in idents:
            try:
                outcomes = registry.run(ident, stacks[name])
            except MissingCapability:
                continue  # a SKIP naming the field: allowed
            except Exception as exc:  # an error is not a PASS; it is reported by the check's own tests
                outcomes = [Outcome(id=ident, passed=False, detail=f"{type(exc).__name__}: {exc}")]
            ran.add(ident)
            passed += [f"{o.id} [{o.case or '-'}] on the liar {name}: {o.detail}" for o in outcomes
                       if o.passed and o.id == ident]
        return passed, ran

    with ThreadPoolExecutor(len(stacks)) as pool:
        results = list(pool.map(on, stacks))
    return [line for passed, _ in results for line in passed], set().union(*(ran for _, ran in results))


def _idents() -> list[str]:
    registry.checks_for("GW-1")
    return [i for i, checks in registry.REGISTRY.items() if i not in EXEMPT and checks[0].ids[0] == i]


def test_no_registered_check_passes_against_the_liar_with_any_capability_missing(
        liars: dict[str, Stack]) -> None:
    idents = _idents()
    passed, ran = false_passes(liars, idents)
    assert not passed, "PASS without its evidence:\n" + "\n".join(passed)
    never = sorted(set(idents) - ran)
    assert not never, f"never run against the liar (add the capability to the double, or exempt with a reason): {never}"


def test_every_registered_check_is_covered_or_exempt_with_a_reason() -> None:
    registry.checks_for("GW-1")
    covered = set(_idents()) | set(EXEMPT)
    assert set(registry.REGISTRY) <= covered | {i for c in registry.REGISTRY.values() for e in c for i in e.ids[1:]}


def test_a_planted_check_that_passes_on_latency_alone_is_caught(
        liars: dict[str, Stack], clean_registry: dict[str, list[registry.Check]]) -> None:
    """The negative control of the meta-test: CA-1 as it was (no upstream count without a provider log, the
    gateway's cache signal never read) PASSes on a fast provider that caches nothing."""

    @registry.check("CA-1")
    def planted(stack: Stack) -> Outcome:
        first = cache.chat(stack, stack.target.plan.cheap_model, "What is a cache?", cache=True)
        again = cache.chat(stack, stack.target.plan.cheap_model, "What is a cache?", nonce=first.nonce, cache=True)
        upstream = cache.provider_entries(stack, first)
        ok = again.status == 200 and again.seconds < 0.1 and again.text == first.text and \
            (upstream is None or len(upstream) == 1)
        return Outcome(id="CA-1", passed=ok, detail="hit, one upstream call")

    registry.REGISTRY["CA-1"] = [c for c in registry.REGISTRY["CA-1"] if c.fn is planted]
    passed, _ = false_passes(liars, ["CA-1"])
    assert passed and all("without provider control" in line for line in passed), passed


def test_the_liar_stacks_differ_by_one_capability_each(liars: dict[str, Stack], tmp_path: Path) -> None:
    full = liars["nothing missing"].capabilities
    for name, stack in liars.items():
        if name != "nothing missing":
            assert len(full - stack.capabilities) == 1, name
