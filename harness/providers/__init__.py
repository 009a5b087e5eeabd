"""Providers turn a Target into a running Stack: `local` (embedded processes), `containers`
(Testcontainers), `compose` (the user's compose files, through Testcontainers) or `external` (a
deployment that is already running). Each is a `Provider`."""

from __future__ import annotations

from pathlib import Path

from harness.providers.base import Provider
from harness.providers.external import ExternalProvider
from harness.providers.local import LocalProvider
from harness.providers.processes import MissingDependency
from harness.target import Target

__all__ = ["ExternalProvider", "LocalProvider", "MissingDependency", "Provider", "provider_for"]


def provider_for(target: Target, run_dir: Path, *, gateway_workers: int = 1) -> Provider:
    """The target's provider; `gateway_workers` LiteLLM processes where the harness starts the gateway."""
    if target.provider == "external":
        return ExternalProvider(target)
    if target.provider == "containers":
        from harness.providers.containers import ContainersProvider  # docker libraries only when asked for

        return ContainersProvider(target, run_dir, gateway_workers=gateway_workers)
    if target.provider == "compose":
        from harness.providers.compose import ComposeProvider

        return ComposeProvider(target, run_dir)
    return LocalProvider(target, run_dir, gateway_workers=gateway_workers)
