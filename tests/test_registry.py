"""The registry decides, before any check code runs, whether a stack can observe a criterion."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import registry
from harness._http import App
from harness.capabilities import ENABLED_BY, Capability
from harness.criteria import CATALOGUE
from harness.registry import MissingCapability
from harness.results import Outcome
from harness.stack import Stack
from harness.target import Endpoint, LangfuseTarget, Target

pytest_plugins = ["pytester"]


def _bare_stack() -> Stack:
    """What a user with only a gateway URL and key gives: no Langfuse, no mock, no Redis, nothing owned."""
    return Stack.over(Target(provider="external", gateway=Endpoint(url="http://127.0.0.1:9")))


def test_a_missing_need_is_a_skip_naming_the_target_field_and_no_check_code_runs(
        clean_registry: dict[str, list[registry.Check]]) -> None:
    calls: list[str] = []

    @registry.check("OBS-3")
    def planted(stack: Stack) -> Outcome:
        calls.append("ran")
        return Outcome(id="OBS-3", passed=True)

    clean_registry["OBS-3"] = [c for c in clean_registry["OBS-3"] if c.fn is planted]
    with pytest.raises(MissingCapability) as caught:
        registry.run("OBS-3", _bare_stack())
    assert calls == []
    assert ENABLED_BY[Capability.LANGFUSE] in str(caught.value) and "langfuse" in str(caught.value)
    assert caught.value.missing == [[Capability.LANGFUSE]]
    # the same stack with the field set: the check runs
    stack = _bare_stack()
    stack.target = stack.target.model_copy(update={"langfuse": LangfuseTarget(
        url="http://127.0.0.1:9", public_key="pk", secret_key="sk")})  # type: ignore[arg-type]
    assert registry.run("OBS-3", stack)[0].passed and calls == ["ran"]


def test_alternatives_are_tried_in_order_and_a_skip_names_each(
        clean_registry: dict[str, list[registry.Check]]) -> None:
    stack = _bare_stack()
    with pytest.raises(MissingCapability) as caught:
        registry.select("BK-1", stack)
    # the reference job needs a stack the harness started; a deployment's own job needs its store
    assert "backup.store" in str(caught.value) and "provider: local" in str(caught.value)
    stack.target = stack.target.model_copy(update={"backup": {"store": "file:///nowhere"}})
    assert registry.select("BK-1", stack).fn.__name__ == "deployment_store"


def test_every_registered_check_names_a_known_criterion_and_needs_only_known_capabilities() -> None:
    registry.checks_for("GW-1")
    for ident, checks in registry.REGISTRY.items():
        assert ident in CATALOGUE
        for entry in checks:
            assert entry.needs <= set(ENABLED_BY), entry.name


def test_every_acceptance_criterion_is_collected_by_a_suite(pytester: pytest.Pytester) -> None:
    """A check registered but never collected would be silently absent from every run."""
    suites = Path(__file__).resolve().parent.parent / "suites" / "acceptance"
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin", "--collect-only", "-q", str(suites))
    collected = "\n".join(result.outlines)
    registry.checks_for("GW-1")
    missing = [i for i, checks in registry.REGISTRY.items()
               if checks[0].ids[0] == i and f"[{i.lower().replace('-', '_')}]" not in collected]
    assert not missing, f"registered but in no acceptance suite: {missing}"


def test_through_the_plugin_the_skip_is_recorded_as_not_blocking(pytester: pytest.Pytester, tmp_path: Path,
                                                                  serve_app: Callable[[App], str]) -> None:
    url = serve_app(App())  # something listens (404 to everything): the pre-flight passes
    target = tmp_path / "target.yaml"
    target.write_text(f"provider: external\ngateway: {{url: '{url}'}}\n")
    pytester.makepyfile(test_suite='''
import pytest
from harness.pytest_plugin import criteria

@pytest.mark.parametrize("ident", criteria("OBS-1", "CA-3"))
def test_it(ident, decide):
    decide(ident)
''')
    run_dir = tmp_path / "run"
    # in a child process: an in-process run would unload the HTTP modules it imported first (pytester restores
    # sys.modules), leaving later tests with exception classes httpx no longer maps
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin", "--run-dir", str(run_dir), "--target",
                                           str(target))
    result.assert_outcomes(skipped=2)
    records = {r["id"]: r for r in json.loads((run_dir / "results.json").read_text())["records"]}
    assert records["OBS-1"]["status"] == "SKIP" and not records["OBS-1"]["blocking"]
    assert "langfuse (url, public_key, secret_key)" in records["OBS-1"]["detail"]
    assert "redis_url" in records["CA-3"]["detail"]
