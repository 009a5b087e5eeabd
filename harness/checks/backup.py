"""BK-1..BK-4: backups that restore (VPS plan slice 10), judged on restored data, not exit codes.

On the harness's own stack the reference job is run, restored and compared with its source. On an
external deployment (`backup.store` in the target) its own nightly job is judged by what it left:
the newest set must be recent and complete, and must restore into fresh servers without an error.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from harness.backups import BackupRig, fingerprint, open_store, restore_set
from harness.capabilities import Capability
from harness.registry import check
from harness.results import Outcome
from harness.stack import Stack
from harness.standins.alerts import AlertSink
from harness.target import BackupTarget

__all__ = ["REFERENCE_JOB", "deployment_store", "failure_is_loud", "latest_restores", "latest_set", "reference_job",
           "restore_matches", "retention", "runs_and_lists"]

# the reference job runs against the stack's own Postgres and Redis, restores into fresh servers of the
# harness's, and reaches its S3 and GCS stand-ins through a fault server on this host (the stack's, where
# it runs here, else the rig's own)
REFERENCE_JOB = frozenset({Capability.OWNED, Capability.POSTGRES, Capability.REDIS})

EXPECTED = {"postgres-harness_app.dump", "postgres-postgres.dump", "redis.rdb", "git.bundle", "manifest.json"}


def runs_and_lists(rig: BackupRig, store: str) -> tuple[Outcome, str | None]:
    """BK-1: the job succeeds and the store lists a complete set (every artefact and the manifest)."""
    code, result, error = rig.run(store)
    stamp = result.get("stamp") if code == 0 else None
    listed = set(rig.sets(store).get(stamp, [])) if stamp else set()
    missing = sorted(EXPECTED - listed)
    ok = code == 0 and not missing
    return Outcome(id="BK-1", case=store.split(":")[0], passed=ok,
                   measured={"exit": code, "seconds": result.get("seconds"), "files": sorted(listed)},
                   threshold={"exit": 0, "files": sorted(EXPECTED)},
                   detail=f"set {stamp} in {result.get('seconds')} s" if ok
                   else f"exit {code}: {error[-200:]}" if code else f"set {stamp} lacks {missing}"), stamp


def restore_matches(rig: BackupRig, store: str, stamp: str | None) -> Outcome:
    """BK-2: every file agrees with the set's manifest and, restored into fresh servers, every table (rows
    and content), every key and every git ref equals the source; a step that cannot restore fails it."""
    case = store.split(":")[0]
    if stamp is None:
        return Outcome(id="BK-2", case=case, passed=False, detail="no backup set to restore (BK-1 failed)")
    tables, keys, refs = fingerprint(rig.postgres_url, rig.redis_url, rig.repo)
    restored = rig.restore(store, stamp)
    wrong_tables = sorted(t for t in tables if restored.postgres.get(t) != tables[t])
    wrong_keys = sorted(k for k in keys if restored.redis.get(k) != keys[k])
    ok = not wrong_tables and not wrong_keys and restored.git == refs and bool(tables) and not restored.errors
    detail = (f"{len(tables)} tables, {len(keys)} keys and {len(refs)} refs equal after restore" if ok else
              "; ".join(filter(None, [*restored.errors[:3],
                                      f"tables differ or missing: {wrong_tables[:4]}" if wrong_tables else "",
                                      f"keys differ: {wrong_keys[:4]}" if wrong_keys else "",
                                      "git refs differ" if restored.git != refs else ""])))
    return Outcome(id="BK-2", case=case, passed=ok, unit="s",
                   measured={"restore_s": restored.seconds, "tables": len(tables), "keys": len(keys),
                             "refs": len(refs), "differing": len(wrong_tables) + len(wrong_keys),
                             "errors": len(restored.errors)},
                   threshold={"differing": 0, "errors": 0}, detail=detail,
                   evidence={"errors": restored.errors[:10], "tables": {t: tables[t] for t in wrong_tables[:5]},
                             "restored": {t: restored.postgres.get(t) for t in wrong_tables[:5]}})


def retention(rig: BackupRig, store: str, days: float = 30.0) -> Outcome:
    """BK-3: a set older than the retention is pruned by the next run; a younger one is kept."""
    old, young = rig.plant(store, days + 10), rig.plant(store, days - 10)
    code, result, error = rig.run(store, retention_days=days)
    sets = rig.sets(store)
    ok = code == 0 and old not in sets and young in sets and result.get("stamp") in sets
    return Outcome(id="BK-3", passed=ok, measured={"old_pruned": old not in sets, "young_kept": young in sets},
                   threshold={"old_pruned": True, "young_kept": True},
                   detail=f"retention {days:g} days: {old} pruned, {young} kept" if ok
                   else f"exit {code} {error[-120:]}; sets after the run: {sorted(sets)}")


def failure_is_loud(rig: BackupRig, sink: AlertSink | None, kind: str = "s3", timeout_s: float = 10.0) -> Outcome:
    """BK-4: with the store (`s3` or `gs`) unreachable (its fault proxy disabled) the job fails, names the
    step, and a notification arrives; no half-written set looks complete."""
    store = rig.s3_store() if kind == "s3" else rig.gcs_store()
    proxy = rig.s3_proxy if kind == "s3" else rig.gcs_proxy
    if proxy is None or sink is None:
        return Outcome(id="BK-4", case=kind, passed=False, detail="needs the stack's fault proxy and notification sink")
    before = set(rig.sets(store))
    started = time.time()
    with proxy.down():
        code, _, error = rig.run(store, "--store-retry-s", "2")
    note = sink.wait_for("backup", lambda n: n.body.get("alert") == "backup_failed", after=started,
                         timeout_s=timeout_s)
    after = rig.sets(store)
    complete_new = [s for s in set(after) - before if "manifest.json" in after[s]]
    ok = code != 0 and "store" in error and note is not None and not complete_new
    latency = round(note.received_at - started, 3) if note else None
    return Outcome(id="BK-4", case=kind, passed=ok, unit="s",
                   measured={"exit": code, "notified_after_s": latency, "complete_sets_written": len(complete_new)},
                   threshold={"exit": "non-zero", "notification": "received", "complete_sets_written": 0},
                   detail=error[-160:] + (f"; notified in {latency} s" if note else "; NO notification"))


def _stamp_time(stamp: str) -> datetime | None:
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None  # not a set the job wrote


def latest_set(backup: BackupTarget) -> tuple[Outcome, str | None]:
    """BK-1 on an external store: the newest set is younger than `max_age_h` and holds every file its
    manifest names ("backup runs daily", "files appear in GCS")."""
    try:
        store = open_store(backup.store, backup.endpoint)
        sets = {stamp: files for stamp, files in store.sets().items() if _stamp_time(stamp)}
    except Exception as exc:  # no credentials, no such bucket, a dead endpoint: the store is unreadable
        return Outcome(id="BK-1", case="latest", passed=False, threshold={"age_h": backup.max_age_h},
                       detail=f"cannot list {backup.store}: {type(exc).__name__}: {str(exc)[:200]}"), None
    if not sets:
        return Outcome(id="BK-1", case="latest", passed=False, threshold={"age_h": backup.max_age_h},
                       detail=f"no backup set in {backup.store}"), None
    stamp = max(sets)
    exact_h = (datetime.now(UTC) - _stamp_time(stamp)).total_seconds() / 3600  # type: ignore[operator]
    age_h = round(exact_h, 3)
    files = set(sets[stamp])
    missing: list[str] = ["manifest.json"] if "manifest.json" not in files else []
    if not missing:
        with tempfile.TemporaryDirectory(prefix="harness-manifest-") as tmp:
            store.get(f"{stamp}/manifest.json", Path(tmp) / "manifest.json")
            try:
                named = set(json.loads((Path(tmp) / "manifest.json").read_text())["files"])
            except (ValueError, KeyError, TypeError):
                named, missing = set(), ["a readable manifest.json"]
        missing += sorted(named - files)
    ok = exact_h <= backup.max_age_h and not missing
    return Outcome(id="BK-1", case="latest", passed=ok, unit="h",
                   measured={"newest": stamp, "age_h": age_h, "files": sorted(files), "sets": len(sets)},
                   threshold={"age_h": backup.max_age_h, "missing": []},
                   detail=f"newest set {stamp}, {age_h} h old, complete" if ok else "; ".join(filter(None, [
                       f"newest set {stamp} is {age_h} h old (limit {backup.max_age_h:g} h)"
                       if exact_h > backup.max_age_h else "", f"set {stamp} lacks {missing}" if missing else ""]))), \
        stamp


def latest_restores(backup: BackupTarget, stamp: str | None) -> Outcome:
    """BK-2 on an external store ("restore test succeeds"): the newest set agrees with its manifest and
    every artefact restores into fresh servers of the harness's own; rows and keys are counted, not
    compared (the live source is not the harness's to read)."""
    if stamp is None:
        return Outcome(id="BK-2", case="latest", passed=False, detail="no backup set to restore (BK-1 found none)")
    restored = restore_set(open_store(backup.store, backup.endpoint), stamp, digests=False)
    rows = sum(t["rows"] for t in restored.postgres.values())
    loaded = bool(restored.postgres or restored.key_count or restored.git)
    ok = not restored.errors and loaded
    return Outcome(id="BK-2", case="latest", passed=ok, unit="s",
                   measured={"restore_s": restored.seconds, "tables": len(restored.postgres), "rows": rows,
                             "keys": restored.key_count, "refs": len(restored.git), "errors": len(restored.errors)},
                   threshold={"errors": 0},
                   detail=(f"set {stamp} restored in {restored.seconds} s: {len(restored.postgres)} tables, "
                           f"{rows:,} rows, {restored.key_count} keys, {len(restored.git)} refs" if ok else
                           "; ".join(restored.errors[:3]) or f"set {stamp} restored nothing"),
                   evidence={"errors": restored.errors[:10]})


@check("BK-1", "BK-2", needs=REFERENCE_JOB, on="backups")
def reference_job(rig: BackupRig) -> list[Outcome]:
    """BK-1 on a file, an S3 and the plan's GCS store; BK-2 restores from the file and GCS stores."""
    listed, stamp = runs_and_lists(rig, rig.local_store)
    outcomes = [listed, restore_matches(rig, rig.local_store, stamp)]
    s3, _ = runs_and_lists(rig, rig.s3_store())
    outcomes.append(s3)
    # the plan's store: "files appear in GCS" and "restore test succeeds" from there
    gcs, gcs_stamp = runs_and_lists(rig, rig.gcs_store())
    return [*outcomes, gcs, restore_matches(rig, rig.gcs_store(), gcs_stamp)]


@check("BK-1", "BK-2", needs={Capability.BACKUP_STORE})
def deployment_store(stack: Stack) -> list[Outcome]:
    """A deployment's own job, judged by its newest set in `backup.store`: recent and complete, and restorable."""
    assert stack.target.backup is not None  # the registry runs this only with a backup store
    latest, stamp = latest_set(stack.target.backup)
    return [latest, latest_restores(stack.target.backup, stamp)]


@check("BK-3", needs=REFERENCE_JOB, on="backups")
def reference_retention(rig: BackupRig) -> Outcome:
    return retention(rig, rig.local_store)


@check("BK-4", needs=REFERENCE_JOB | {Capability.ALERT_SINK}, on="backups")
def reference_store_cut(rig: BackupRig) -> list[Outcome]:
    return [failure_is_loud(rig, rig.sink, kind) for kind in ("s3", "gs")]
