"""The observer (VPS plan slices 8-9): reads agent events from a Redis Stream and reconciles them into git.

Every event is appended once to a JSONL audit log (fsync'd); an event whose version differs from the
aggregate's becomes a change-request file; a low-risk one is applied and committed by the observer's
identity; a high-risk one waits for an approval (Redis pub/sub, kept durably under `approvals:<id>`).
Crash safety: an entry is acknowledged only after its effects are durable, a restart first re-reads
its own pending entries and claims idle ones of dead consumers (XAUTOCLAIM), and both the audit log
and the apply step are idempotent by event id, so a redelivered event changes nothing twice.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from event_schema import STREAM, Event, InvalidEvent, parse

__all__ = ["IDENTITY", "Observer"]

IDENTITY = ("observer", "observer@gateway-harness.local")
APPROVALS = "approvals"
# Broken variants for the checks' negative controls: each is a mistake a hand-written observer makes.
FAULTS = {
    "apply-stale": "applies an event whatever version it is based on (no drift check)",
    "rewrite-audit": "rewrites the whole audit log on every event (earlier lines change)",
    "foreign-identity": "commits as the host's git identity instead of the observer's",
    "no-push": "commits locally and never pushes",
    "ignore-approval": "applies high-risk changes without waiting for an approval",
}
_log = logging.getLogger("observer")


def _slug(aggregate_id: str) -> str:
    return aggregate_id.replace(":", "__").replace("/", "_")


class Observer:
    def __init__(self, client: redis.Redis, repo: Path, audit: Path, changes: Path, *, stream: str = STREAM,
                 group: str = "observers", consumer: str = "observer-1", claim_idle_ms: int = 5_000,
                 ack_first: bool = False, idempotent: bool = True, push: bool = True, batch: bool = False,
                 faults: frozenset[str] = frozenset()) -> None:
        self.r, self.repo, self.audit, self.changes = client, repo, audit, changes
        self.stream, self.group, self.consumer, self.claim_idle_ms = stream, group, consumer, claim_idle_ms
        self.ack_first, self.idempotent, self.push_enabled = ack_first, idempotent, push
        self.batch = batch  # one commit per read batch; entries are acknowledged only after that commit
        unknown = faults - FAULTS.keys()
        if unknown:
            raise ValueError(f"unknown fault {sorted(unknown)}; one of {sorted(FAULTS)}")
        self.faults = faults
        self.push_enabled = push and "no-push" not in faults
        self._staged: list[str] = []
        self._unacked: list[bytes | str] = []
        self.seen: set[str] = set()
        self.push_pending = False
        self.push_after = 0.0
        self.pubsub: Any = None

    # start-up: the state a crash may have left is made consistent before anything is read

    def setup(self) -> None:
        try:
            self.r.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self.changes.mkdir(parents=True, exist_ok=True)
        self._repair_audit()
        self._own_repo()
        self._git("reset", "--hard", "-q", "HEAD")  # an apply cut short before its commit is undone
        self._git("clean", "-fdq")
        self.pubsub = self.r.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(APPROVALS)
        self.push_pending = self.push_enabled and self._has_remote()

    def _own_repo(self) -> None:
        """One observer per truth repo (an flock the kernel drops when we die); then git's own lock files
        left by a git command killed with us (index.lock, HEAD.lock, ref locks) are stale and removed:
        without this a SIGKILL mid-commit leaves a repo every later commit refuses."""
        git_dir = self.repo / ".git"
        self._lock = (git_dir / "observer.lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another observer holds {self.repo}; one observer per truth repository") from None
        for stale in [git_dir / "index.lock", git_dir / "HEAD.lock", *git_dir.glob("refs/**/*.lock")]:
            if stale.exists():
                _log.warning("removing %s left by a git command cut short", stale.relative_to(self.repo))
                stale.unlink()

    def _repair_audit(self) -> None:
        """Drops a torn last line (a crash mid-write); complete lines are never touched."""
        if not self.audit.exists():
            self.audit.parent.mkdir(parents=True, exist_ok=True)
            self.audit.touch()
            return
        data = self.audit.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.audit.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)
                os.fsync(handle.fileno())
            data = self.audit.read_bytes()
        for line in data.splitlines():
            self.seen.add(json.loads(line)["event_id"])

    # the loop

    def run(self, stop: list[bool], idle_exit_s: float | None = None) -> None:
        idle_since = time.monotonic()
        while not stop[0]:
            worked = self.step()
            if worked:
                idle_since = time.monotonic()
            elif idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                return

    def step(self, block_ms: int = 500) -> int:
        """One round: own pending entries, idle entries of dead consumers, then new ones; approvals; push."""
        done = 0
        for entry_id, fields in self._pending():
            done += self.handle(entry_id, fields)
        claimed = self.r.xautoclaim(self.stream, self.group, self.consumer, self.claim_idle_ms, "0-0", count=50)
        for entry_id, fields in claimed[1]:
            if fields:
                done += self.handle(entry_id, fields)
        reply = self.r.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=50, block=block_ms)
        for _, entries in reply or []:
            for entry_id, fields in entries:
                done += self.handle(entry_id, fields)
        self.flush()
        done += self.approvals()
        if self.push_pending and time.monotonic() >= self.push_after:
            self.push()
        return done

    def _pending(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        reply = self.r.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=100)
        return [(eid, f) for _, entries in reply or [] for eid, f in entries if f]

    def handle(self, entry_id: bytes | str, fields: dict[Any, Any]) -> int:
        raw = fields.get(b"event", fields.get("event"))
        if self.ack_first:  # the plan-style shortcut: acknowledged before anything is durable
            self.r.xack(self.stream, self.group, entry_id)
        try:
            event = parse(raw or b"")
        except InvalidEvent as exc:
            _log.error("entry %s is not a valid event (%s): acknowledged, not applied", entry_id, exc)
            self.r.xack(self.stream, self.group, entry_id)
            return 1
        self._audit(event)
        self._reconcile(event, entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id))
        if self.batch and not self.ack_first:
            self._unacked.append(entry_id)
        elif not self.ack_first:
            self.r.xack(self.stream, self.group, entry_id)
        return 1

    def flush(self) -> None:
        """Batch mode: one commit for everything applied since the last, then the acknowledgements."""
        if self._staged:
            trailers = "\n".join(f"Event-Id: {ident}" for ident in self._staged)
            self._git("add", "aggregates")
            self._git("commit", "-q", "-m", f"apply {len(self._staged)} events\n\n{trailers}")
            self._staged.clear()
            self.push_pending = self.push_enabled and self._has_remote()
        if self._unacked:
            self.r.xack(self.stream, self.group, *self._unacked)
            self._unacked.clear()

    # effects, each idempotent by event id

    def _audit(self, event: Event) -> None:
        if self.idempotent and event.event_id in self.seen:
            return
        line = json.dumps({"event_id": event.event_id, "recorded_at": time.time(),
                           "event": json.loads(event.model_dump_json())}, separators=(",", ":")) + "\n"
        if "rewrite-audit" in self.faults:
            rows = [json.loads(old) for old in self.audit.read_text().splitlines()]
            line = "".join(json.dumps({**row, "recorded_at": time.time()}) + "\n" for row in rows) + line
            self.audit.write_text("")
        with self.audit.open("ab") as handle:
            handle.write(line.encode())
            handle.flush()
            os.fsync(handle.fileno())
        self.seen.add(event.event_id)

    def aggregate(self, aggregate_id: str) -> dict[str, Any]:
        path = self.repo / "aggregates" / f"{_slug(aggregate_id)}.json"
        if not path.exists():
            return {"aggregate_id": aggregate_id, "version": 0, "state": {}, "applied": []}
        return json.loads(path.read_text())

    def _reconcile(self, event: Event, entry: str) -> None:
        current = self.aggregate(event.aggregate_id)
        if self.idempotent and event.event_id in current["applied"]:
            return  # applied before a crash; only the acknowledgement was missing
        request = self.changes / f"{event.event_id}.json"
        if self.idempotent and request.exists():
            return  # its change request exists already
        if event.version != current["version"] and "apply-stale" not in self.faults:
            self._change_request(event, entry, "drift", f"event is based on version {event.version}, the "
                                                        f"aggregate is at {current['version']}")
        elif event.metadata.approval_required and "ignore-approval" not in self.faults:
            self._change_request(event, entry, "approval", "high-risk change: waits for approval")
            self.r.publish("change_requests", json.dumps({"event_id": event.event_id,
                                                          "aggregate_id": event.aggregate_id}))
        else:
            self.apply(event, current)

    def _change_request(self, event: Event, entry: str, kind: str, reason: str) -> None:
        body = {"event_id": event.event_id, "entry": entry, "kind": kind,
                "status": "pending" if kind == "approval" else "open", "reason": reason,
                "aggregate_id": event.aggregate_id, "event": json.loads(event.model_dump_json())}
        path = self.changes / f"{event.event_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=1))
        os.replace(tmp, path)

    def apply(self, event: Event, current: dict[str, Any], approved_by: str | None = None) -> None:
        updated = {"aggregate_id": event.aggregate_id, "version": current["version"] + 1,
                   "state": {**current["state"], **event.payload.data},
                   "applied": [*current["applied"], event.event_id]}
        path = self.repo / "aggregates" / f"{_slug(event.aggregate_id)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(updated, indent=1, sort_keys=True) + "\n")
        if self.batch and approved_by is None:
            self._staged.append(event.event_id)  # added and committed together in flush()
            return
        self._git("add", str(path.relative_to(self.repo)))
        trailers = f"\n\nEvent-Id: {event.event_id}" + (f"\nApproved-By: {approved_by}" if approved_by else "")
        self._git("commit", "-q", "-m", f"{event.payload.action} {event.payload.resource} "
                                        f"({event.aggregate_id} v{updated['version']}){trailers}")
        self.push_pending = self.push_enabled and self._has_remote()

    def approvals(self) -> int:
        """Applies pending high-risk changes whose approval is recorded (pub/sub wakes us; the key is the record)."""
        while self.pubsub is not None and self.pubsub.get_message(timeout=0.0):
            pass
        done = 0
        waiting = [(path, json.loads(path.read_text())) for path in self.changes.glob("*.json")]
        # in stream order: of two approved changes to one version, the earlier event wins, whatever the ids
        waiting.sort(key=lambda item: tuple(int(part) for part in item[1].get("entry", "0-0").split("-")))
        for path, request in waiting:
            if request["kind"] != "approval" or request["status"] != "pending":
                continue
            decision = self.r.get(f"approvals:{request['event_id']}")
            if decision is None:
                continue
            decision = decision.decode() if isinstance(decision, bytes) else decision
            event = parse(request["event"])
            current = self.aggregate(event.aggregate_id)
            if decision.startswith("approve"):
                if event.event_id in current["applied"]:
                    status = "applied"
                elif event.version != current["version"]:
                    status = "stale"
                else:
                    self.apply(event, current, approved_by=decision.partition(":")[2] or "unknown")
                    status = "applied"
            else:
                status = "rejected"
            request["status"] = status
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(request, indent=1))
            os.replace(tmp, path)
            done += 1
        return done

    def push(self) -> None:
        result = subprocess.run(["git", "-C", str(self.repo), "push", "-q", "origin", "HEAD"], capture_output=True,
                                text=True, timeout=30)
        if result.returncode:
            _log.warning("git push failed (%s); commits stay local, next try in 2 s",
                         result.stderr.strip().splitlines()[-1:] or "no output")
            self.push_after = time.monotonic() + 2.0
            return
        self.push_pending = False

    def _has_remote(self) -> bool:
        return bool(subprocess.run(["git", "-C", str(self.repo), "remote"], capture_output=True,
                                   text=True).stdout.strip())

    def _git(self, *args: str) -> None:
        name, email = ("root", "root@localhost") if "foreign-identity" in self.faults else IDENTITY
        env = {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        subprocess.run(["git", "-C", str(self.repo), *args], check=True, capture_output=True, env=env, timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--repo", type=Path, required=True, help="the git truth repository (a work tree)")
    parser.add_argument("--audit", type=Path, required=True, help="the JSONL audit log")
    parser.add_argument("--changes", type=Path, required=True, help="where change-request JSON files go")
    parser.add_argument("--stream", default=STREAM)
    parser.add_argument("--consumer", default="observer-1")
    parser.add_argument("--claim-idle-ms", type=int, default=5_000)
    parser.add_argument("--ack-first", action="store_true", help="negative control: ack before processing")
    parser.add_argument("--no-idempotency", action="store_true", help="negative control: no dedupe by event id")
    parser.add_argument("--batch", action="store_true", help="one commit per read batch (acks after the commit)")
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS),
                        help="negative control: run a broken variant (repeatable)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s observer: %(message)s")
    observer = Observer(redis.Redis.from_url(args.redis), args.repo, args.audit, args.changes, stream=args.stream,
                        consumer=args.consumer, claim_idle_ms=args.claim_idle_ms, ack_first=args.ack_first,
                        idempotent=not args.no_idempotency, batch=args.batch,
                        faults=frozenset(args.fault))
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    observer.setup()
    _log.info("observing %s as %s/%s", args.stream, observer.group, args.consumer)
    print("ready", flush=True)
    observer.run(stop)


if __name__ == "__main__":
    main()
