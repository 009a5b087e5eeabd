"""Negative controls for BK-2..BK-4: a backup that skips a table, a job that never prunes, and one
that fails without telling anyone, each make their check FAIL."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness._proc import Supervisor
from harness.backups import BackupRig
from harness.checks import backup
from harness.providers.local import _binary, start_postgres
from harness.stack import Stack


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A Postgres of these tests' own (the shared test stack runs without one), under the system temp dir
    so the postgres user can reach it when the tests run as root."""
    folder = Path(tempfile.mkdtemp(prefix="harness-bk-pg-"))
    supervisor = Supervisor(folder)
    supervisor.guard_dir(folder)
    try:
        yield start_postgres(supervisor, (_binary("initdb", "postgresql"), _binary("postgres", "postgresql")), folder)
    finally:
        supervisor.close()


@pytest.fixture
def rig(stack: Stack, postgres_url: str, tmp_path: Path) -> Iterator[BackupRig]:
    assert stack.target.redis_url is not None
    sink = stack.alerts()
    made = BackupRig(postgres_url, stack.target.redis_url.get_secret_value(), stack.toxiproxy_url, tmp_path,
                     sink.hook_url("backup") if sink else None)
    made.seed(rows=50)
    yield made
    made.close()


def test_bk2_fails_when_the_backup_skips_a_table(rig: BackupRig) -> None:
    code, result, _ = rig.run(rig.local_store, "--exclude-table", "orders")
    assert code == 0  # the job itself is content: only the restore shows what is missing
    outcome = backup.restore_matches(rig, rig.local_store, result["stamp"])
    assert not outcome.passed and "harness_app:public.orders" in outcome.detail


class _NeverPrunes(BackupRig):
    def run(self, store: str, *extra: str, retention_days: float = 30.0) -> tuple[int, dict[str, Any], str]:
        return super().run(store, *extra, retention_days=1e6)


def test_bk3_fails_when_old_sets_are_kept(stack: Stack, postgres_url: str, tmp_path: Path) -> None:
    assert stack.target.redis_url is not None
    rig = _NeverPrunes(postgres_url, stack.target.redis_url.get_secret_value(), None, tmp_path, None)
    try:
        rig.seed(rows=10)
        outcome = backup.retention(rig, rig.local_store)
        assert not outcome.passed and outcome.measured == {"old_pruned": False, "young_kept": True}
    finally:
        rig.close()


def test_bk4_fails_when_a_failure_notifies_nobody(rig: BackupRig, stack: Stack) -> None:
    rig.notify_url = None
    outcome = backup.failure_is_loud(rig, stack.alerts(), timeout_s=3)
    assert not outcome.passed and outcome.measured["exit"] != 0 and outcome.measured["notified_after_s"] is None
