"""BK-1..BK-4: backups that restore (VPS plan slice 10), judged on restored data, not exit codes."""

from __future__ import annotations

import time

from harness.alerts import AlertSink
from harness.backups import BackupRig, fingerprint
from harness.results import Outcome

__all__ = ["failure_is_loud", "restore_matches", "retention", "runs_and_lists"]

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
