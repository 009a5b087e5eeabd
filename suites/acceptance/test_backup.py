"""Backups (VPS plan slice 10): BK-1..BK-4 with the reference backup job (stack/backup) against the
stack's Postgres, Redis and a truth repository; restored into fresh servers and compared. On an
external deployment with `backup.store` in its target: its own newest set, checked and restored."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import registry
from harness.backups import BackupRig
from harness.capabilities import Capability
from harness.pytest_plugin import Decide, criteria
from harness.stack import Stack


@pytest.fixture(scope="module")
def backups(stack: Stack, run_dir: Path) -> Iterator[BackupRig | None]:
    """The reference job's rig, built only where its checks can run (the registry says which)."""
    target = stack.target
    if stack.lacks(registry.rig_needs("backups")) or target.postgres_url is None or target.redis_url is None:
        yield None
        return
    sink = stack.alerts()
    # the stack's fault server reaches the stores only where it runs on this host; else the rig brings one
    faults = stack.toxiproxy_url if Capability.HOST_NETWORK in stack.capabilities else None
    rig = BackupRig(target.postgres_url.get_secret_value(), target.redis_url.get_secret_value(),
                    faults, run_dir / "backups", sink.hook_url("backup") if sink else None)
    rig.sink = sink
    rig.seed()
    try:
        yield rig
    finally:
        stack.standins.extend(s for s in rig.standins if s not in stack.standins)
        rig.close()


@pytest.mark.parametrize("ident", criteria("BK-1", "BK-3", "BK-4"))
def test_backup(ident: str, backups: BackupRig | None, decide: Decide) -> None:
    decide(ident, backups=backups)
