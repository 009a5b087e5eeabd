"""The checks: one function per criterion ID, each `(Stack) -> Outcome`."""

from harness.checks import audit, cache, gateway, models, observability, quotas, security

__all__ = ["audit", "cache", "gateway", "models", "observability", "quotas", "security"]
