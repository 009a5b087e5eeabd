"""The checks: one function per criterion ID, each registered with what it needs (`harness.registry`).

Importing this package registers every check; suites and the registry find them by criterion ID.
"""

from harness.checks import (
           agents,
           audit,
           backup,
           budget,
           cache,
           events,
           failover,
           gateway,
           models,
           observability,
           quotas,
           routing,
           security,
)

__all__ = ["agents", "audit", "backup", "budget", "cache", "events", "failover", "gateway", "models", "observability",
           "quotas", "routing", "security"]
