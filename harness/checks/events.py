"""EV-1, EV-2, OBV-1..OBV-3, GIT-1..GIT-3: the VPS plan's event layer (slices 7-9), judged from outside.

Each check runs on an event rig and reads only what an operator could: the stream, the files, `git log`.
Two rigs: the reference observer the harness runs on a stack it started (`observer`), or the deployment's
own observer reached through its stream and truth remote (`pipeline`, the target's `events:` section);
a check registered on both is the same code, judging whichever observer is there.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from typing import Any

from harness.capabilities import Capability
from harness.observer import ObserverRig, make_event
from harness.pipeline import EventRig, UserPipeline
from harness.registry import check
from harness.results import NotApplicable, Outcome

__all__ = ["approval_gate", "audit_log", "auto_commit", "bad_events", "crash_safety", "drift", "history",
           "on_stream", "redelivery", "refused_by_pipeline"]

REFERENCE = frozenset({Capability.OWNED, Capability.REDIS})  # the reference observer, on the stack's own Redis
PIPELINE = frozenset({Capability.EVENT_PIPELINE})


@check("EV-1", on="observer", needs=REFERENCE)
@check("EV-1", on="pipeline", needs=PIPELINE)
def on_stream(rig: EventRig) -> Outcome:
    """EV-1: a published event is on the stream (XREAD) and passes the schema."""
    event = make_event(rig.aggregate("project:life-os"), 0)
    entry = rig.publish(event)
    found = rig.client.xrange(rig.stream, entry, entry)
    body = json.loads(found[0][1][b"event"]) if found else None
    try:
        valid = body is not None and rig.schema.parse(body).event_id == event["event_id"]
    except rig.schema.InvalidEvent:
        valid = False
    return Outcome(id="EV-1", passed=valid, measured={"entry": entry, "present": bool(found), "schema_valid": valid},
                   threshold="present and schema-valid", detail=f"entry {entry} read back" if found else "not found")


_BAD = {
    "missing aggregate_id": lambda e: {k: v for k, v in e.items() if k != "aggregate_id"},
    "version as text": lambda e: {**e, "version": "47"},
    "negative version": lambda e: {**e, "version": -1},
    "approval_required as text": lambda e: {**e, "metadata": {**e["metadata"], "approval_required": "no"}},
    "unknown field": lambda e: {**e, "colour": "red"},
    "not JSON": lambda e: "{event_id: evt_x",
}


@check("EV-2", on="observer", needs=REFERENCE)
def bad_events(rig: ObserverRig, validate: bool = True) -> Outcome:
    """EV-2: malformed events are refused with a message naming the problem, and nothing is written."""
    before = rig.client.xlen(rig.stream) if rig.client.exists(rig.stream) else 0
    refused, accepted = {}, []
    for name, spoil in _BAD.items():
        try:
            rig.publish(spoil(make_event("project:life-os", 0)), validate=validate)
            accepted.append(name)
        except rig.schema.InvalidEvent as exc:
            refused[name] = str(exc)
    written = (rig.client.xlen(rig.stream) if rig.client.exists(rig.stream) else 0) - before
    clear = all(len(m) > 8 for m in refused.values())
    ok = not accepted and written == 0 and clear
    return Outcome(id="EV-2", passed=ok, measured={"refused": len(refused), "accepted": accepted, "written": written},
                   threshold={"refused": len(_BAD), "written": 0},
                   detail="; ".join(f"{k}: {v}" for k, v in list(refused.items())[:3]) if ok
                   else f"accepted {accepted}, {written} entries written", evidence={"messages": refused})


def _committed(rig: EventRig, event_id: str, timeout_s: float) -> list[dict[str, str]]:
    """The commits of an event on the rig's remote, waiting up to `timeout_s` for the first."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [c for c in rig.commits("remote") if c["event_id"] == event_id]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


@check("OBV-1", on="observer", needs=REFERENCE)
@check("OBV-1", on="pipeline", needs=PIPELINE | {Capability.CHANGE_REQUESTS})
def drift(rig: EventRig, timeout_s: float | None = None) -> Outcome:
    """OBV-1: an event based on a stale version becomes a change request and is not applied."""
    aggregate = rig.aggregate("project:drift-check")
    first = make_event(aggregate, 0)
    rig.publish(first)
    stale = make_event(aggregate, 0)  # the aggregate is at 1 once the first is applied
    rig.publish(stale)
    drained = rig.drained(timeout_s or rig.settle_s)
    # absence is judged only once the first event's commit is visible: a late push cannot hide an application
    _committed(rig, first["event_id"], timeout_s or rig.settle_s)
    request = rig.change_requests().get(stale["event_id"])
    applied = [c for c in rig.commits() if c["event_id"] == stale["event_id"]]
    ok = drained and request is not None and request.get("kind") == "drift" and not applied
    return Outcome(id="OBV-1", passed=ok, measured={"change_request": request.get("kind") if request else None,
                                                    "applied": bool(applied)},
                   threshold={"change_request": "drift", "applied": False},
                   detail=request["reason"] if request else "no change request for a stale event")


@check("OBV-2", on="observer", needs=REFERENCE)
@check("OBV-2", on="pipeline", needs=PIPELINE | {Capability.AUDIT_LOG})
def audit_log(rig: EventRig, count: int = 20, timeout_s: float | None = None) -> Outcome:
    """OBV-2: every event lands in the JSONL log once, and lines written earlier never change."""
    assert rig.audit is not None  # the pipeline's check needs the audit log (events.audit_log)
    aggregate = rig.aggregate("project:audit-check")
    rig.publish(make_event(aggregate, 0))  # lines written earlier: at least one, whatever ran before
    rig.drained(timeout_s or rig.settle_s)
    before = rig.audit.read_bytes() if rig.audit.exists() else b""
    events = [make_event(aggregate, i) for i in range(1, count + 1)]
    for event in events:
        rig.publish(event)
    drained = rig.drained(2 * (timeout_s or rig.settle_s))
    after = rig.audit.read_bytes() if rig.audit.exists() else b""
    ids = Counter(rig.audit_ids())
    missing = [e["event_id"] for e in events if ids[e["event_id"]] == 0]
    duplicated = [e["event_id"] for e in events if ids[e["event_id"]] > 1]
    prefix_kept = after.startswith(before)
    ok = drained and not missing and not duplicated and prefix_kept
    return Outcome(id="OBV-2", passed=ok, measured={"logged": count - len(missing), "duplicated": len(duplicated),
                                                    "earlier_lines_unchanged": prefix_kept},
                   threshold={"logged": count, "duplicated": 0, "earlier_lines_unchanged": True},
                   detail=f"{count - len(missing)}/{count} events logged once; earlier lines "
                          f"{'unchanged' if prefix_kept else 'CHANGED'}")


@check("GIT-1", on="observer", needs=REFERENCE)
@check("GIT-1", on="pipeline", needs=PIPELINE)
def auto_commit(rig: EventRig, timeout_s: float | None = None) -> Outcome:
    """GIT-1: a low-risk change is committed by the observer's identity and reaches the remote."""
    event = make_event(rig.aggregate("project:commit-check"), 0)
    rig.publish(event)
    deadline = time.monotonic() + (timeout_s or rig.settle_s)
    remote: list[dict[str, str]] = []
    while time.monotonic() < deadline:
        remote = [c for c in rig.commits("remote") if c["event_id"] == event["event_id"]]
        if remote:
            break
        time.sleep(0.1)
    ok = len(remote) == 1 and remote[0]["author"] == rig.identity
    return Outcome(id="GIT-1", passed=ok, measured={"commits_on_remote": len(remote),
                                                    "author": remote[0]["author"] if remote else None},
                   threshold={"commits_on_remote": 1, "author": rig.identity},
                   detail=f"commit {remote[0]['sha'][:10]} by {remote[0]['author']}" if remote
                   else "no commit for the event reached the remote")


@check("GIT-2", on="observer", needs=REFERENCE)
@check("GIT-2", on="pipeline", needs=PIPELINE | {Capability.CHANGE_REQUESTS})
def approval_gate(rig: EventRig, hold_s: float | None = None, timeout_s: float | None = None) -> Outcome:
    """GIT-2: a high-risk change is not applied while unapproved, and is applied once approved."""
    aggregate = rig.aggregate("project:approval-check")
    event = make_event(aggregate, 0, approval=True, data={"budget": "raise to $500"})
    rig.publish(event)
    hold_s = hold_s or rig.hold_s
    time.sleep(hold_s)
    early = [c for c in rig.commits() if c["event_id"] == event["event_id"]]
    request = rig.change_requests().get(event["event_id"], {})
    approved_at = time.monotonic()
    rig.approve(event["event_id"], "harness-check")
    applied: list[dict[str, str]] = []
    while time.monotonic() - approved_at < (timeout_s or rig.settle_s) and not applied:
        applied = [c for c in rig.commits() if c["event_id"] == event["event_id"]]
        time.sleep(0.05)
    latency = round(time.monotonic() - approved_at, 3) if applied else None
    ok = not early and request.get("status") == "pending" and len(applied) == 1
    return Outcome(id="GIT-2", passed=ok, measured={"applied_before_approval": bool(early),
                                                    "applied_after_s": latency},
                   threshold={"applied_before_approval": False, "applied_after_approval": True}, unit="s",
                   detail=f"held {hold_s:g} s as {request.get('status')!r}, applied {latency} s after approval"
                   if ok else f"before approval: {len(early)} commits, request {request.get('status')!r}; "
                              f"after: {len(applied)} commits")


@check("GIT-3", on="observer", needs=REFERENCE)
def history(rig: ObserverRig) -> Outcome:
    """GIT-3: one commit per applied change (no event id twice), no change request for an applied event,
    and the event log holds every published event exactly once."""
    rig.drained(10.0)
    commits = Counter(c["event_id"] for c in rig.commits() if c["event_id"])
    twice = sorted(e for e, n in commits.items() if n > 1)
    requests = rig.change_requests()
    both = sorted(e for e in commits if e in requests and requests[e]["kind"] == "drift")
    logged = Counter(rig.audit_ids())
    repeated = sorted(e for e, n in logged.items() if n > 1)
    ok = not twice and not both and not repeated
    return Outcome(id="GIT-3", passed=ok, measured={"commits": sum(commits.values()), "event_ids_in_two_commits":
                                                    len(twice), "applied_and_drift": len(both),
                                                    "logged_twice": len(repeated)},
                   threshold={"event_ids_in_two_commits": 0, "applied_and_drift": 0, "logged_twice": 0},
                   detail=f"{sum(commits.values())} commits, one per applied event" if ok
                   else f"processed twice: {(twice + both + repeated)[:3]}")


@check("OBV-3", on="observer", needs=REFERENCE)
@check("OBV-3", on="pipeline", needs=PIPELINE | {Capability.OBSERVER_CONTROL, Capability.AUDIT_LOG})
def crash_safety(rig: EventRig, events: int = 60, kills: int = 4, seed: int | None = None,
                 timeout_s: float = 60.0, burst: int = 20, attempts: int = 3) -> Outcome:
    """OBV-3: events flow while the observer is SIGKILLed at random moments and restarted; afterwards
    every event is logged exactly once, every low-risk change committed exactly once, none lost.

    Each kill comes after a burst of `burst` events, once the consumer group shows the observer holding
    entries it read and has not acknowledged. A kill counts only if, once the observer is dead, such
    entries are still there: it landed while the observer was handling what it read. A kill at an idle
    moment, or after the burst was done, proves nothing and lets an observer that acknowledges before
    applying pass (seen through docker, whose kill lands ~0.1 s after it is asked for: with single events,
    and once with 20-event bursts, four kills and nothing lost). Such a kill is tried again
    with a burst twice as long (at most `attempts` bursts per kill); with no kill landing mid-work there is
    no verdict."""
    rng = random.Random(seed)
    aggregates = [rig.aggregate(f"project:crash-{i}") for i in range(4)]
    versions = dict.fromkeys(aggregates, 0)
    published: list[str] = []

    def publish() -> None:
        aggregate = rng.choice(aggregates)
        event = make_event(aggregate, versions[aggregate])
        versions[aggregate] += 1  # published in order per aggregate: each is based on the one before
        rig.publish(event)
        published.append(event["event_id"])

    def kill_mid_work() -> tuple[int, bool]:
        """Kills after bursts until one lands while the observer holds unacknowledged entries: kills made,
        whether one did."""
        for attempt in range(attempts):
            read_before = _group(rig).get("entries-read") or 0
            for _ in range(burst * 2 ** attempt):
                publish()
            _until_working(rig, read_before)
            time.sleep(rng.uniform(0.0, 0.02))
            rig.kill()
            landed = bool(_group(rig).get("pending"))  # read by the dead observer, never acknowledged
            rig.start()
            if landed:
                return attempt + 1, True
        return attempts, False

    kill_at = sorted(rng.sample(range(5, events), kills))
    mid_work = made = 0
    for index in range(events):
        publish()
        if index in kill_at:
            tries, landed = kill_mid_work()
            made, mid_work = made + tries, mid_work + landed
        else:
            time.sleep(rng.uniform(0.0, 0.01))
    drained = rig.drained(timeout_s)
    committed = _settled(rig, published)
    logged = Counter(rig.audit_ids())
    lost = [e for e in published if logged[e] == 0]
    twice = [e for e in published if logged[e] > 1 or committed[e] > 1]
    uncommitted = [e for e in published if committed[e] == 0]
    ok = drained and not lost and not twice and not uncommitted
    total = len(published)
    if ok and not mid_work:  # nothing lost, but no kill caught it working: no evidence either way
        raise NotApplicable(f"{made} SIGKILLs, none while the observer held entries it had read and not "
                            f"acknowledged (each after bursts of {burst} to {burst * 2 ** (attempts - 1)} events): "
                            "crash safety was not exercised")
    return Outcome(id="OBV-3", passed=ok, measured={"events": total, "kills": made, "kills_mid_work": mid_work,
                                                    "lost": len(lost), "twice": len(twice),
                                                    "not_committed": len(uncommitted)},
                   threshold={"lost": 0, "twice": 0, "not_committed": 0},
                   detail=f"{total} events, {made} SIGKILLs ({mid_work} with read entries unacknowledged): every event "
                          "logged and committed exactly once"
                   if ok else f"lost {lost[:2]}, twice {twice[:2]}, not committed {uncommitted[:2]}"
                              f"{'' if drained else '; the stream never drained'}")


def _group(rig: EventRig) -> dict[str, Any]:
    """The observer's consumer group as XINFO GROUPS shows it (entries-read, lag, pending), or {}."""
    if not rig.client.exists(rig.stream):
        return {}
    for info in rig.client.xinfo_groups(rig.stream):
        if info["name"] in (rig.group, rig.group.encode()):
            return {str(k): v for k, v in info.items()}
    return {}


def _until_working(rig: EventRig, read_before: int, timeout_s: float = 5.0) -> None:
    """Until the group has read past `read_before` and holds entries read and not yet acknowledged."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = _group(rig)
        if (info.get("entries-read") or 0) > read_before and info.get("pending"):
            return
        time.sleep(0.002)


def _settled(rig: EventRig, published: list[str]) -> Counter[str]:
    """Commits per event id once every published event has one, or after the rig's settle time (a remote
    sees an application only when the observer has pushed it)."""
    deadline = time.monotonic() + rig.settle_s
    while True:
        committed = Counter(c["event_id"] for c in rig.commits())
        if all(committed[e] for e in published) or time.monotonic() > deadline:
            return committed
        time.sleep(0.5)


@check("EV-2", on="pipeline", needs=PIPELINE)
def refused_by_pipeline(rig: UserPipeline) -> Outcome:
    """EV-2 on the deployment's pipeline: malformed events written straight to its stream (past any
    publisher's validation) are dead-lettered where the target says, or acknowledged, and never applied."""
    marks = {name: f"evt_bad_{uuid.uuid4().hex[:12]}" for name in _BAD}
    aggregate = rig.aggregate("project:malformed")
    for name, spoil in _BAD.items():
        event = spoil(make_event(aggregate, 0, event_id=marks[name]))
        rig.publish(event if isinstance(event, str) else {**event, "event_id": marks[name]}, validate=False)
    canary = make_event(aggregate, 0)  # a good event after the bad ones: once it is applied, they were read
    rig.publish(canary)
    drained = rig.drained(rig.settle_s)
    seen = bool(_committed(rig, canary["event_id"], rig.settle_s))
    applied = sorted({c["event_id"] for c in rig.commits("remote")} & set(marks.values()))
    problems = [] if drained else ["the stream did not drain (malformed entries left pending)"]
    if not seen:
        problems.append("the good event after the malformed ones was never applied")
    if applied:
        problems.append(f"applied: {applied}")
    where = "acknowledged"
    dead = rig.spec.dead_letter_stream
    if dead:
        letters = " ".join(str(fields) for _, fields in rig.client.xrange(dead, "-", "+", count=10_000))
        missing = [name for name, mark in marks.items() if mark not in letters and name != "not JSON"]
        where = f"dead-lettered to {dead}"
        if missing:
            problems.append(f"not in {dead}: {missing}")
    return Outcome(id="EV-2", passed=not problems, measured={"malformed": len(_BAD), "applied": len(applied),
                                                             "drained": drained},
                   threshold={"applied": 0, "drained": True}, detail="; ".join(problems) or
                   f"{len(_BAD)} malformed events {where} and not applied; the good one after them applied",
                   evidence={"event_ids": marks})


@check("GIT-3", on="pipeline", needs=PIPELINE)
def redelivery(rig: UserPipeline) -> Outcome:
    """GIT-3 on the deployment's pipeline: an event delivered twice (the same event id again, as after a
    consumer crash) gives one commit, no change request, and one audit line where the log is readable."""
    event = make_event(rig.aggregate("project:redelivery"), 0)
    rig.publish(event)
    first = _committed(rig, event["event_id"], rig.settle_s)
    rig.publish(event)
    drained = rig.drained(rig.settle_s)
    marker = make_event(event["aggregate_id"], 1)  # applied after the redelivery: the remote has caught up
    rig.publish(marker)
    _committed(rig, marker["event_id"], rig.settle_s)
    commits = [c for c in rig.commits("remote") if c["event_id"] == event["event_id"]]
    request = rig.change_requests().get(event["event_id"]) if rig.changes else None
    logged = rig.audit_ids().count(event["event_id"]) if rig.audit else None
    ok = bool(first) and drained and len(commits) == 1 and request is None and logged in (None, 1)
    seen = ["the remote"] + (["change requests"] if rig.changes else []) + (["the audit log"] if rig.audit else [])
    return Outcome(id="GIT-3", passed=ok, measured={"commits": len(commits), "change_request": bool(request),
                                                    "audit_lines": logged},
                   threshold={"commits": 1, "change_request": False, "audit_lines": 1},
                   detail=(f"delivered twice, applied once ({commits[0]['sha'][:10]}); judged on {', '.join(seen)}"
                           if ok else f"delivered twice: {len(commits)} commits, change request "
                                      f"{request.get('kind') if request else None}, {logged} audit lines"
                                      + ("" if first else "; the first delivery was never applied")),
                   evidence={"event_id": event["event_id"], "judged_on": seen})
