"""The check registry: each check registered under the criterion IDs it decides, with what it needs.

A criterion's needs are the catalogue's (`Criterion.needs`) plus the check's own. A criterion may have
several checks, tried in registration order: the first whose needs the stack meets decides it (e.g. a
backup criterion judged by the reference job on a stack the harness owns, else by the deployment's own
store). When none can run, the result is a SKIP naming each missing capability and the target field that
gives it - decided here, before any check code runs, never in the check itself.

    @check("CA-3", needs={Capability.REDIS})
    def ttl(stack: Stack) -> Outcome: ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.capabilities import Capability, explain_missing
from harness.criteria import criterion
from harness.results import NotApplicable, Outcome
from harness.spend import Estimate

__all__ = ["REGISTRY", "Check", "MissingCapability", "check", "checks_for", "require", "rig_needs", "run", "select"]

F = TypeVar("F", bound=Callable[..., Any])
Spend = Estimate | Callable[[Any], Estimate]  # a fixed estimate, or one from the target (its models, its limits)
NO_CALLS = Estimate(0)


class MissingCapability(NotApplicable):
    """The stack lacks what a criterion's verdict rests on: a SKIP naming the target field that gives it."""

    def __init__(self, ident: str, missing: Sequence[Sequence[Capability]]) -> None:
        self.ident = ident
        self.missing = [list(m) for m in missing]
        super().__init__(f"{ident} cannot be observed on this stack: " + "; or ".join(
            explain_missing(m) for m in self.missing))


@dataclass(frozen=True)
class Check:
    """One way of deciding one or more criteria: `fn` takes its subject (the Stack, unless the suite
    gives a rig built for it) and returns one Outcome or a list of them."""

    ids: tuple[str, ...]
    fn: Callable[..., Outcome | list[Outcome]]
    own_needs: frozenset[Capability]
    on: str = "stack"  # the subject `fn` takes: the Stack, or the name of a rig the suite builds for it
    spend: Spend = NO_CALLS  # the LLM calls it sends (`harness plan`; tests hold each run to it)

    def estimate(self, target: Any) -> Estimate:
        """The LLM calls this check sends on `target`, before anything is sent."""
        return self.spend(target) if callable(self.spend) else self.spend

    @property
    def ident(self) -> str:
        return self.ids[0]

    @property
    def needs(self) -> frozenset[Capability]:
        return frozenset().union(self.own_needs, *(criterion(i).needs for i in self.ids))

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"


REGISTRY: dict[str, list[Check]] = {}


def check(ident: str, *also: str, needs: Iterable[Capability] = (), on: str = "stack",
          spend: Spend = NO_CALLS) -> Callable[[F], F]:
    """Registers a check for `ident` (and the other criteria it records, `also`); `on` names its subject
    when that is not the Stack (a rig the suite builds only when the check's needs are met); `spend` is
    what it sends to the models (an `Estimate`, or a function of the target giving one)."""
    ids = (ident, *also)
    for i in ids:
        criterion(i)  # an unknown ID fails at import, not at the end of a run

    def register(fn: F) -> F:
        entry = Check(ids=ids, fn=fn, own_needs=frozenset(needs), on=on, spend=spend)
        for i in ids:
            REGISTRY.setdefault(i, [])
            # a module reloaded by a test registers once; one function may decide on several subjects
            if all((c.name, c.on) != (entry.name, entry.on) for c in REGISTRY[i]):
                REGISTRY[i].append(entry)
        return fn

    return register


def checks_for(ident: str) -> list[Check]:
    _load()
    found = REGISTRY.get(ident)
    if not found:
        raise KeyError(f"no check registered for {ident}; register one with @harness.registry.check({ident!r})")
    return found


def rig_needs(on: str) -> frozenset[Capability]:
    """What every check run on the rig named `on` needs: a suite builds that rig only when the stack has it."""
    _load()
    found = [c.needs for checks in REGISTRY.values() for c in checks if c.on == on]
    if not found:
        raise KeyError(f"no check runs on {on!r}")
    return frozenset.intersection(*found)


def select(ident: str, stack: Any, subjects: Mapping[str, Any] | None = None) -> Check:
    """The first check for `ident` whose needs `stack` meets (and, given `subjects`, whose rig the suite
    built: a deployment's own observer is judged in place of the reference one); else `MissingCapability`
    (a non-blocking SKIP)."""
    candidates = checks_for(ident)
    missing = []
    unbuilt = None
    for candidate in candidates:
        lacking = stack.lacks(sorted(candidate.needs, key=list(Capability).index))
        if lacking:
            missing.append(lacking)
        elif subjects is not None and candidate.on != "stack" and subjects.get(candidate.on) is None:
            unbuilt = unbuilt or candidate
        else:
            return candidate
    if unbuilt is not None:
        return unbuilt
    raise MissingCapability(ident, missing)


def require(ident: str, stack: Any, needs: Iterable[Capability] = ()) -> None:
    """For criteria a suite decides itself (load, alerting): SKIP now, before any work, unless `stack` has
    the catalogue's needs of `ident` and `needs`."""
    lacking = stack.lacks(sorted(criterion(ident).needs | frozenset(needs), key=list(Capability).index))
    if lacking:
        raise MissingCapability(ident, [lacking])


def run(ident: str, stack: Any, subjects: Mapping[str, Any] | None = None) -> list[Outcome]:
    """Decides `ident` on `stack` with the check `select` picks (given its subject: the stack, or the rig
    named in `subjects`); the check's outcomes as a list."""
    chosen = select(ident, stack, subjects)
    subject = stack if chosen.on == "stack" else (subjects or {}).get(chosen.on)
    if subject is None:
        raise RuntimeError(f"{ident}: {chosen.name} runs on {chosen.on!r}, which the suite did not build")
    result = chosen.fn(subject)
    return list(result) if isinstance(result, list) else [result]


def _load() -> None:
    # the check modules register themselves on import; importing them here makes the registry whole
    # whichever module a caller imported first
    import harness.checks  # noqa: F401
