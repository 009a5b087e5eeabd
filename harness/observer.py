"""Drives the reference observer (stack/observer) for the event checks: a truth repo with a bare
remote, an audit log, a stream of its own, and observer processes to start, SIGKILL and restart.

The checks judge only what an operator can see: the stream, the audit log, change-request files,
and `git log` of the remote; the observer is a black box started as its own process.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import redis

from harness._proc import Service, Supervisor
from harness.target import REPO

__all__ = ["IDENTITY_EMAIL", "OBSERVER_DIR", "ObserverRig", "approve", "drained", "event_schema", "init_truth_repo",
           "make_event"]

OBSERVER_DIR = REPO / "stack" / "observer"
IDENTITY_EMAIL = "observer@gateway-harness.local"  # the reference observer commits as this


@functools.cache
def event_schema() -> ModuleType:
    """The reference publisher and schema (stack/observer/event_schema.py), loaded once by path."""
    spec = importlib.util.spec_from_file_location("harness_event_schema", OBSERVER_DIR / "event_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("harness_event_schema", module)
    spec.loader.exec_module(module)
    return module


def make_event(aggregate: str, version: int, *, approval: bool = False, data: dict[str, Any] | None = None,
               event_id: str | None = None) -> dict[str, Any]:
    """A schema-valid event of the plan's shape."""
    ident = event_id or f"evt_{datetime.now(UTC):%Y%m%d}_{uuid.uuid4().hex[:12]}"
    return {"event_id": ident, "event_type": "agent.action.completed", "aggregate_id": aggregate,
            "version": version, "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "agent": {"model": "claude-3", "agent_id": "agent-main", "session_id": "session-harness"},
            "payload": {"action": "task_updated", "resource": f"/tasks/{ident}", "data": data or {"n": version},
                        "reasoning": "harness check"},
            "metadata": {"correlation_id": f"req-{ident}", "approval_required": approval}}


def init_truth_repo(repo: Path, remote: Path | None = None) -> Path:
    """A truth repository with one operator commit (and a bare remote it is pushed to, if given)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "operator", "GIT_AUTHOR_EMAIL": "operator@example.invalid",
           "GIT_COMMITTER_NAME": "operator", "GIT_COMMITTER_EMAIL": "operator@example.invalid"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "README.md").write_text("Truth repository: one JSON file per aggregate, by the observer.\n")
    steps: list[tuple[str, ...]] = [("add", "README.md"), ("commit", "-q", "-m", "truth repository")]
    if remote is not None:
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
        steps += [("remote", "add", "origin", str(remote)), ("push", "-q", "origin", "main")]
    for args in steps:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)
    return repo


def approve(client: redis.Redis, event_id: str, who: str = "operator") -> None:
    """The plan's approval: the durable record first, then the pub/sub nudge (an observer that is down
    finds it on restart)."""
    client.set(f"approvals:{event_id}", f"approve:{who}", ex=7 * 86_400)
    client.publish("approvals", json.dumps({"event_id": event_id, "decision": "approve", "by": who}))


def drained(client: redis.Redis, stream: str, group: str, timeout_s: float = 30.0) -> bool:
    """True once the consumer group has every entry of the stream delivered and acknowledged."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        groups = client.xinfo_groups(stream) if client.exists(stream) else []
        info = next((g for g in groups if g["name"] in (group, group.encode())), None)
        if info is not None and info["pending"] == 0 and info.get("lag", 1) == 0:
            return True
        time.sleep(0.05)
    return False


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


class ObserverRig:
    """One observer deployment under test: `start()`, `kill()`, `publish()`, `approve()`, then read results."""

    identity = IDENTITY_EMAIL
    group = "observers"  # the reference observer's consumer group
    settle_s = 10.0  # how long it may take to apply and push one event
    hold_s = 2.0  # how long an unapproved change is watched for being applied

    def __init__(self, redis_url: str, folder: Path, flags: tuple[str, ...] = (),
                 publisher_stream: str | None = None) -> None:
        self.redis_url, self.folder, self.flags = redis_url, folder.resolve(), flags
        self.client = redis.Redis.from_url(redis_url)
        self.stream = f"agent_events_{uuid.uuid4().hex[:8]}"
        # where the agents' publisher writes; a different name is the classic misconfiguration
        self.publisher_stream = publisher_stream or self.stream
        self.repo, self.remote = self.folder / "truth", self.folder / "truth-remote.git"
        self.audit, self.changes = self.folder / "audit.jsonl", self.folder / "change-requests"
        self.schema = event_schema()
        self.supervisor = Supervisor(self.folder)
        self.service: Service | None = None
        self.starts = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        init_truth_repo(self.repo, self.remote)

    # the observer process

    def start(self, timeout_s: float = 20.0) -> None:
        self.starts += 1
        argv = [sys.executable, str(OBSERVER_DIR / "observer.py"), "--redis", self.redis_url, "--repo", str(self.repo),
                "--audit", str(self.audit), "--changes", str(self.changes), "--stream", self.stream,
                "--claim-idle-ms", "1000", *self.flags]
        self.service = self.supervisor.start(f"observer-{self.starts}", argv)
        deadline = time.monotonic() + timeout_s
        while "observing" not in self.service.log.read_text(errors="replace"):
            if not self.service.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the observer did not start; log {self.service.log}: {self.service.tail()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed; whatever was in flight is cut."""
        if self.service is not None:
            os.killpg(self.service.pid, signal.SIGKILL)
            self.service.process.wait(10)
            self.supervisor.stop(self.service.name)
            self.service = None

    def stop(self) -> None:
        if self.service is not None:
            self.supervisor.stop(self.service.name)
            self.service = None

    def close(self) -> None:
        self.stop()
        self.supervisor.close()
        self.client.delete(self.stream, self.publisher_stream)
        self.client.close()

    # traffic

    def aggregate(self, name: str) -> str:
        return name  # a fresh repository of its own: the names need no namespace

    def publish(self, event: dict[str, Any] | str, validate: bool = True) -> str:
        return self.schema.publish(self.client, event, stream=self.publisher_stream, validate=validate)

    def approve(self, event_id: str, who: str = "operator") -> None:
        approve(self.client, event_id, who)

    def drained(self, timeout_s: float = 30.0) -> bool:
        return drained(self.client, self.stream, self.group, timeout_s)

    # what an operator can inspect

    def audit_ids(self) -> list[str]:
        if not self.audit.exists():
            return []
        return [json.loads(line)["event_id"] for line in self.audit.read_text().splitlines() if line.strip()]

    def change_requests(self) -> dict[str, dict[str, Any]]:
        if not self.changes.exists():
            return {}
        return {p.stem: json.loads(p.read_text()) for p in self.changes.glob("*.json")}

    def commits(self, where: str = "local") -> list[dict[str, str]]:
        """Commits after the initial one, oldest first, one row per Event-Id trailer: sha, author, event_id."""
        repo = self.remote if where == "remote" else self.repo
        out = _git(repo, "log", "--reverse", "--format=%H%x1f%ae%x1f%(trailers:key=Event-Id,valueonly,separator=;)"
                                             "%x1e", "main")
        rows = [r.strip("\n").split("\x1f") for r in out.split("\x1e") if r.strip()]
        # a batched commit carries several Event-Id trailers: one row per event id it applied
        return [{"sha": sha, "author": author, "event_id": ident} for sha, author, ids in rows
                if author != "operator@example.invalid" for ident in (ids.split(";") if ids else [""])]
