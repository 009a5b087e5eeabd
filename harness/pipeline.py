"""The deployment's own event layer, reached as an operator reaches it: its stream and its truth remote.

`UserPipeline` gives the event checks what `ObserverRig` gives them for the reference observer, but the
observer is the user's: the harness publishes test events to their stream (under the target's namespace,
a fresh aggregate per check and run), reads the consumer group's state, and judges the observer by its
effects on the truth remote (fetched into a private mirror), the audit log and change requests where
the target makes them readable. It never writes to the remote and never touches other aggregates.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import redis

from harness.control import ServiceControl
from harness.observer import approve, drained, event_schema
from harness.sections import EventsTarget

__all__ = ["EventRig", "UserPipeline"]


class EventRig(Protocol):
    """What the event checks use, whoever runs the observer."""

    client: redis.Redis
    stream: str
    group: str  # the observer's consumer group on the stream
    schema: ModuleType
    identity: str
    audit: Path | None
    settle_s: float
    hold_s: float

    def aggregate(self, name: str) -> str: ...
    def publish(self, event: dict[str, Any] | str, validate: bool = True) -> str: ...
    def approve(self, event_id: str, who: str = "operator") -> None: ...
    def drained(self, timeout_s: float = 30.0) -> bool: ...
    def audit_ids(self) -> list[str]: ...
    def change_requests(self) -> dict[str, dict[str, Any]]: ...
    def commits(self, where: str = "local") -> list[dict[str, str]]: ...
    def kill(self) -> None: ...
    def start(self) -> None: ...


class UserPipeline:
    """The user's stream, consumer group, truth remote (and audit log, change requests where given)."""

    identity: str

    def __init__(self, spec: EventsTarget, folder: Path, control: ServiceControl | None = None,
                 service: str = "observer") -> None:
        self.spec = spec
        self.control, self.service = control, service  # where the harness runs the observer (OBV-3)
        self.folder = folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.client = redis.Redis.from_url(spec.redis_url.get_secret_value(), socket_timeout=5)
        self.stream, self.group = spec.stream, spec.group
        self.schema = event_schema()
        self.identity = spec.observer_identity
        self.settle_s = spec.settle_s
        self.hold_s = spec.settle_s  # a late push must not hide an early application
        self.audit = spec.audit_log
        self.changes = spec.change_requests
        self.run = uuid.uuid4().hex[:8]  # this run's aggregates: a fresh version history each time
        self.mirror = self.folder / "truth-mirror.git"
        shutil.rmtree(self.mirror, ignore_errors=True)
        # --no-local: a path remote is otherwise copied file by file, and a push landing meanwhile (its quarantine
        # folder of incoming objects) made the copy fail; the git transport reads a consistent view
        self._git(None, "clone", "-q", "--mirror", "--no-local", spec.truth_remote, str(self.mirror))

    def aggregate(self, name: str) -> str:
        # the schema's aggregate id is `kind:name`: the namespace is the kind, this run and the check the name
        return f"{self.spec.namespace}:{self.run}-{name.split(':', 1)[-1]}"

    # traffic: only ever events under this run's namespace

    def publish(self, event: dict[str, Any] | str, validate: bool = True) -> str:
        if isinstance(event, dict) and "aggregate_id" in event and \
                not str(event["aggregate_id"]).startswith(f"{self.spec.namespace}:"):
            raise ValueError(f"the harness writes only aggregates under {self.spec.namespace}:, not "
                             f"{event['aggregate_id']}")
        entry: str = self.schema.publish(self.client, event, stream=self.stream, validate=validate)
        return entry

    def approve(self, event_id: str, who: str = "operator") -> None:
        approve(self.client, event_id, who)

    # the observer's process, where the harness runs it (the compose provider)

    def kill(self) -> None:
        if self.control is None:
            raise RuntimeError("the harness does not run this observer; OBV-3 needs provider: compose")
        self.control.kill(self.service)

    def start(self) -> None:
        if self.control is None:
            raise RuntimeError("the harness does not run this observer; OBV-3 needs provider: compose")
        self.control.start(self.service)

    def drained(self, timeout_s: float = 30.0) -> bool:
        return drained(self.client, self.stream, self.group, timeout_s)

    # what an operator can inspect

    def audit_ids(self) -> list[str]:
        if self.audit is None or not self.audit.exists():
            return []
        ids = []
        for line in self.audit.read_text().splitlines():
            try:
                ids.append(str(json.loads(line)["event_id"]))
            except (ValueError, KeyError, TypeError):
                continue
        return ids

    def change_requests(self) -> dict[str, dict[str, Any]]:
        if self.changes is None or not self.changes.exists():
            return {}
        return {p.stem: json.loads(p.read_text()) for p in self.changes.glob("*.json")}

    def commits(self, where: str = "remote") -> list[dict[str, str]]:
        """Commits on the remote's branch, oldest first, one row per event-id trailer (the remote is the only
        copy the harness sees, whichever `where` a check asks for)."""
        self._git(self.mirror, "fetch", "-q", "--prune", "origin", "+refs/heads/*:refs/heads/*")
        key = self.spec.event_id_trailer
        out = self._git(self.mirror, "log", "--reverse", f"--format=%H%x1f%ae%x1f%(trailers:key={key},valueonly,"
                                                         "separator=;)%x1e", self.spec.branch)
        rows = [r.strip("\n").split("\x1f") for r in out.split("\x1e") if r.strip()]
        return [{"sha": sha, "author": author, "event_id": ident} for sha, author, ids in rows if ids
                for ident in ids.split(";")]

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def _git(repo: Path | None, *args: str) -> str:
        argv = ["git", *(["-C", str(repo)] if repo else []), *args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {result.stderr.strip()[:300]}; check events.truth_remote")
        return result.stdout
