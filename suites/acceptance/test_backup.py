"""Backups (VPS plan slice 10): BK-1..BK-4 with the reference backup job (stack/backup) against the
stack's Postgres, Redis and a truth repository; restored into fresh servers and compared. On an
external deployment with `backup.store` in its target: its own newest set, checked and restored."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.backups import BackupRig
from harness.checks import backup
from harness.results import NotApplicable, Outcome
from harness.stack import Stack

Record = Callable[[Outcome], Outcome]


@pytest.fixture(scope="module")
def backups(stack: Stack, run_dir: Path) -> Iterator[BackupRig | None]:
    target = stack.target
    if stack.provider != "local" or target.postgres_url is None or target.redis_url is None:
        yield None
        return
    sink = stack.alerts()
    rig = BackupRig(target.postgres_url.get_secret_value(), target.redis_url.get_secret_value(),
                    stack.toxiproxy_url, run_dir / "backups", sink.hook_url("backup") if sink else None)
    rig.seed()
    try:
        yield rig
    finally:
        stack.standins.extend(s for s in rig.standins if s not in stack.standins)
        rig.close()


def _rig(backups: BackupRig | None, stack: Stack) -> BackupRig:
    if backups is None and stack.target.backup is not None:
        raise NotApplicable("pruning old sets and cutting the store are tried on the reference job only, not on "
                            "a deployment's own (BK-1 and BK-2 judge its newest set)")
    if backups is None:
        raise NotApplicable("the backup checks run the reference job on the embedded stack, whose Postgres and "
                            "Redis the harness owns and can restore into fresh servers; for a deployment's own "
                            "job, give its store as backup.store in the target (BK-1, BK-2)")
    return backups


@pytest.mark.criterion("BK-1", "BK-2")
def test_backup_and_restore(backups: BackupRig | None, stack: Stack, record: Record) -> None:
    if backups is None and stack.target.backup is not None:
        latest, stamp = backup.latest_set(stack.target.backup)
        outcomes = [record(latest), record(backup.latest_restores(stack.target.backup, stamp))]
        assert all(outcomes), "; ".join(o.summary() for o in outcomes if not o)
        return
    rig = _rig(backups, stack)
    listed, stamp = backup.runs_and_lists(rig, rig.local_store)
    outcomes = [record(listed), record(backup.restore_matches(rig, rig.local_store, stamp))]
    s3, s3_stamp = backup.runs_and_lists(rig, rig.s3_store())
    outcomes.append(record(s3))
    # the plan's store: "files appear in GCS" and "restore test succeeds" from there
    gcs, gcs_stamp = backup.runs_and_lists(rig, rig.gcs_store())
    outcomes += [record(gcs), record(backup.restore_matches(rig, rig.gcs_store(), gcs_stamp))]
    assert all(outcomes) and s3_stamp, "; ".join(o.summary() for o in outcomes if not o)


@pytest.mark.criterion("BK-3")
def test_retention(backups: BackupRig | None, stack: Stack, record: Record) -> None:
    rig = _rig(backups, stack)
    outcome = record(backup.retention(rig, rig.local_store))
    assert outcome, outcome.summary()


@pytest.mark.criterion("BK-4")
def test_unreachable_store(backups: BackupRig | None, stack: Stack, record: Record) -> None:
    rig = _rig(backups, stack)
    outcomes = [record(backup.failure_is_loud(rig, stack.alerts(), kind)) for kind in ("s3", "gs")]
    assert all(outcomes), "; ".join(o.summary() for o in outcomes if not o)
