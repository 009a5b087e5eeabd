"""Providers turn a Target into a running Stack: `local` (embedded processes), `containers`
(Testcontainers) or `external` (a deployment that is already running)."""

from __future__ import annotations

from pathlib import Path

from harness.providers.external import ExternalProvider
from harness.providers.local import LocalProvider, MissingDependency
from harness.target import Target

__all__ = ["ExternalProvider", "LocalProvider", "MissingDependency", "provider_for"]


def provider_for(target: Target, run_dir: Path) -> LocalProvider | ExternalProvider:
    if target.provider == "external":
        return ExternalProvider(target)
    if target.provider == "containers":
        from harness.providers.containers import ContainersProvider  # docker libraries only when asked for

        return ContainersProvider(target, run_dir)  # type: ignore[return-value]
    return LocalProvider(target, run_dir)
