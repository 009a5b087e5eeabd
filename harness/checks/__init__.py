"""The checks: one function per criterion ID, each `(Stack) -> Outcome`."""

from harness.checks import gateway, observability

__all__ = ["gateway", "observability"]
