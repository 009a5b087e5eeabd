"""A healthy stack verified as a user would verify their own: only the gateway, Langfuse, the LiteLLM config
and the team keys are given. Nothing it cannot observe may FAIL: the verdict is GO with 0 FAIL, every SKIP
names the target field that would let it run, and adding that field (redis_url) makes its check run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import registry
from harness.stack import Stack
from harness.target import REFERENCE_CONFIG, REPO, Target, load_target
from tests.conftest import start_stack


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of this test's own: its team keys' minute windows are not shared with other tests."""
    yield from start_stack(tmp_path_factory.mktemp("user-view"), Target.embedded())


def _user_target(stack: Stack, folder: Path, **extra: Any) -> Path:
    doc = stack.target_document()
    minimal = {key: doc[key] for key in ("provider", "gateway", "langfuse", "teams", "quota_scale", "cache_isolation")}
    minimal["langfuse"].pop("standin", None)
    path = folder / "target.yaml"
    path.write_text(yaml.safe_dump({"name": "users-view", "litellm_config": str(REFERENCE_CONFIG), **minimal,
                                    **extra}, sort_keys=False))
    path.chmod(0o600)
    return path


def _acceptance(target: Path, reports: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = subprocess.run([sys.executable, "-m", "harness.cli", "acceptance", "--target", str(target),
                             "--reports", str(reports), *args], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "COLUMNS": "200"}, timeout=600)
    return result, json.loads((reports / "latest" / "results.json").read_text())


def test_a_healthy_stack_seen_with_only_gateway_langfuse_config_and_keys_is_go(own_stack: Stack,
                                                                                 tmp_path: Path) -> None:
    result, data = _acceptance(_user_target(own_stack, tmp_path), tmp_path / "reports")
    fails = [f"{r['id']}: {r['detail']}" for r in data["records"] if r["status"] in ("FAIL", "ERROR")]
    assert not fails and data["verdict"] == "GO" and result.returncode == 0, fails or result.stdout[-2000:]
    skips = [r for r in data["records"] if r["status"] == "SKIP"]
    assert skips and all(not r["blocking"] for r in skips)
    # each SKIP names what would let it run: a target field, or the provider that has it
    unnamed = [r["id"] for r in skips if not any(field in r["detail"] for field in (
        "_url", "logs_dir", "langfuse", "teams", "backup.store", "provider: local", "semantic_cache"))]
    assert not unnamed, [(r["id"], r["detail"]) for r in skips if r["id"] in unnamed]
    assert "CA-3" in {r["id"] for r in skips} and "criteria verified" in data["coverage"]
    # what `harness plan` said each check would send holds: no check sent more LLM calls than it declares
    target = load_target(_user_target(own_stack, tmp_path))
    booked = {ident: spent["calls"] for ident, spent in data["spend"]["by_criterion"].items()}
    declared = {ident: max(c.estimate(target).calls for c in registry.checks_for(ident)) for ident in booked}
    over = {ident: (booked[ident], limit) for ident, limit in declared.items() if booked[ident] > limit}
    assert declared and not over, over


def test_giving_redis_url_lets_ca3_run_and_pass(own_stack: Stack, tmp_path: Path) -> None:
    assert own_stack.target.redis_url is not None
    target = _user_target(own_stack, tmp_path, redis_url=own_stack.target.redis_url.get_secret_value())
    _, data = _acceptance(target, tmp_path / "reports", "-k", "ca_3")
    records = {r["id"]: r for r in data["records"]}
    assert records["CA-3"]["status"] == "PASS", records["CA-3"]["detail"]


def _with_budget_test_key(stack: Stack, folder: Path, team: str, **override: Any) -> Path:
    path = _user_target(stack, folder)
    document = yaml.safe_load(path.read_text())
    for entry in document["teams"]:
        if entry["team"] == team:
            entry.update(budget_test=True, **override)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_a_key_set_up_for_budget_tests_lets_qt3_run_without_the_mock(own_stack: Stack, tmp_path: Path) -> None:
    _, data = _acceptance(_with_budget_test_key(own_stack, tmp_path, "qa"), tmp_path / "reports", "-k", "qt_3")
    records = {r["id"]: r for r in data["records"]}
    assert records["QT-3"]["status"] == "PASS", records["QT-3"]["detail"]
    assert "on key qa_budget_key" in records["QT-3"]["detail"]
    # the providers are not the harness's mock to this target: the day's spend is booked as real money
    assert data["spend"]["real_providers"] and data["spend"]["by_criterion"]["QT-3"]["calls"] >= 2


def test_qt3_fails_on_a_budget_test_key_the_gateway_lets_overspend(own_stack: Stack, tmp_path: Path) -> None:
    # the target says the admin key stops at 5 cents a day; the gateway holds it to its own, far larger limit
    target = _with_budget_test_key(own_stack, tmp_path, "admin", daily_usd=0.05)
    _, data = _acceptance(target, tmp_path / "reports", "-k", "qt_3")
    records = {r["id"]: r for r in data["records"]}
    assert records["QT-3"]["status"] == "FAIL" and "no budget error" in records["QT-3"]["detail"], records["QT-3"]
