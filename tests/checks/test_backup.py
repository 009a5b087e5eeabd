"""BK-1, BK-2 and BK-4 PASS on the plan's Cloud Storage store (the harness's stand-in), and negative
controls: a job that exits 0 without its manifest, a backup that skips a table, a store that keeps
half of every object, a job that never prunes, and one that fails without telling anyone, each make
their check FAIL. For an external deployment's own store: its newest set PASSes, and a stale set, a
set without its manifest and a corrupt dump FAIL."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness._proc import Supervisor, free_port
from harness.backups import BackupRig, open_store
from harness.checks import backup
from harness.providers.processes import binary, redis_ping, start_postgres
from harness.stack import Stack
from harness.target import BackupTarget


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A Postgres of these tests' own (the shared test stack runs without one), under the system temp dir
    so the postgres user can reach it when the tests run as root."""
    folder = Path(tempfile.mkdtemp(prefix="harness-bk-pg-"))
    supervisor = Supervisor(folder)
    supervisor.guard_dir(folder)
    try:
        yield start_postgres(supervisor, (binary("initdb", "postgresql"), binary("postgres", "postgresql")), folder)
    finally:
        supervisor.close()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis of these tests' own: the backup job's `--rdb` sync should not touch the shared gateway's cache."""
    folder = Path(tempfile.mkdtemp(prefix="harness-bk-redis-"))
    supervisor = Supervisor(folder)
    supervisor.guard_dir(folder)
    port = free_port()
    server = supervisor.start("redis", [binary("redis-server", "redis-server"), "--port", str(port), "--bind",
                                        "127.0.0.1", "--save", "", "--dir", str(folder)])
    supervisor.ready(server, lambda: redis_ping(port), 15)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        supervisor.close()


@pytest.fixture
def rig(stack: Stack, postgres_url: str, redis_url: str, tmp_path: Path) -> Iterator[BackupRig]:
    sink = stack.alerts()
    made = BackupRig(postgres_url, redis_url, stack.toxiproxy_url, tmp_path,
                     sink.hook_url("backup") if sink else None)
    made.seed(rows=50)
    yield made
    made.close()


class _NoManifest(BackupRig):
    def run(self, store: str, *extra: str, retention_days: float = 30.0) -> tuple[int, dict[str, Any], str]:
        return super().run(store, "--skip-manifest", *extra, retention_days=retention_days)


def test_bk1_fails_when_the_job_exits_0_without_a_manifest(postgres_url: str, redis_url: str,
                                                           tmp_path: Path) -> None:
    rig = _NoManifest(postgres_url, redis_url, None, tmp_path, None)
    try:
        rig.seed(rows=10)
        outcome, _ = backup.runs_and_lists(rig, rig.local_store)
        assert not outcome.passed and outcome.measured["exit"] == 0, outcome.summary()
        assert "manifest.json" in outcome.detail and "manifest.json" not in outcome.measured["files"]
    finally:
        rig.close()


def test_bk2_fails_when_the_backup_skips_a_table(rig: BackupRig) -> None:
    code, result, _ = rig.run(rig.local_store, "--exclude-table", "orders")
    assert code == 0  # the job itself is content: only the restore shows what is missing
    outcome = backup.restore_matches(rig, rig.local_store, result["stamp"])
    assert not outcome.passed and "harness_app:public.orders" in outcome.detail


def test_backup_to_cloud_storage_restores_and_fails_loudly(rig: BackupRig, stack: Stack) -> None:
    store = rig.gcs_store()
    listed, stamp = backup.runs_and_lists(rig, store)
    restored = backup.restore_matches(rig, store, stamp)
    loud = backup.failure_is_loud(rig, stack.alerts(), "gs")
    assert listed and restored and loud, [o.summary() for o in (listed, restored, loud) if not o]
    assert "Cloud Storage (backup store): harness stand-in (JSON API)" in rig.standins


def test_bk2_fails_when_the_store_keeps_half_of_every_object(rig: BackupRig) -> None:
    store = rig.gcs_store("truncate-uploads")
    listed, stamp = backup.runs_and_lists(rig, store)
    assert listed.passed  # every file is listed: only a restore shows they are cut short
    outcome = backup.restore_matches(rig, store, stamp)
    assert not outcome.passed and outcome.measured["errors"] >= 2, outcome.summary()
    assert any("pg_restore postgres-harness_app.dump" in e for e in outcome.evidence["errors"]), outcome.evidence


class _NeverPrunes(BackupRig):
    def run(self, store: str, *extra: str, retention_days: float = 30.0) -> tuple[int, dict[str, Any], str]:
        return super().run(store, *extra, retention_days=1e6)


def test_bk3_fails_when_old_sets_are_kept(postgres_url: str, redis_url: str, tmp_path: Path) -> None:
    rig = _NeverPrunes(postgres_url, redis_url, None, tmp_path, None)
    try:
        rig.seed(rows=10)
        outcome = backup.retention(rig, rig.local_store)
        assert not outcome.passed and outcome.measured == {"old_pruned": False, "young_kept": True}
    finally:
        rig.close()


@pytest.mark.parametrize("kind", ["s3", "gs"])
def test_bk4_fails_when_a_failure_notifies_nobody(rig: BackupRig, stack: Stack, kind: str) -> None:
    rig.notify_url = None
    outcome = backup.failure_is_loud(rig, stack.alerts(), kind, timeout_s=3)
    assert not outcome.passed and outcome.measured["exit"] != 0 and outcome.measured["notified_after_s"] is None


def test_an_external_stores_newest_set_passes_and_fails_when_stale_corrupt_or_incomplete(rig: BackupRig,
                                                                                        tmp_path: Path) -> None:
    store = rig.gcs_store()
    code, result, _ = rig.run(store)
    assert code == 0
    target = BackupTarget(store=store, endpoint=rig.gcs_endpoint)
    latest, stamp = backup.latest_set(target)
    restored = backup.latest_restores(target, stamp)
    assert latest and restored and stamp == result["stamp"], [latest.summary(), restored.summary()]
    assert restored.measured["rows"] > 0 and restored.measured["keys"] > 0 and restored.measured["refs"] > 0
    stale, _ = backup.latest_set(target.model_copy(update={"max_age_h": 1e-4}))
    assert not stale.passed and "h old" in stale.detail
    # the dump damaged in the store after the job wrote it: the manifest and pg_restore both notice
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"PGDMP" + b"\0" * 64)
    open_store(store, rig.gcs_endpoint).put(f"{stamp}/postgres-harness_app.dump", garbage)
    corrupt = backup.latest_restores(target, stamp)
    assert not corrupt.passed and corrupt.measured["errors"] >= 2, corrupt.summary()
    rig.run(store, "--skip-manifest")  # a newer set, written without its manifest
    incomplete, _ = backup.latest_set(target)
    assert not incomplete.passed and "manifest.json" in incomplete.detail, incomplete.summary()


def test_an_unreadable_external_store_is_a_named_fail(tmp_path: Path) -> None:
    outcome, stamp = backup.latest_set(BackupTarget(store="s3://harness-none/x", endpoint="http://127.0.0.1:9"))
    assert not outcome.passed and stamp is None and outcome.detail.startswith("cannot list s3://harness-none/x")
