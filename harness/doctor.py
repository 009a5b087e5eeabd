"""What the embedded stack needs on this machine, found or not, and the command that installs it."""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from dataclasses import dataclass

from harness.providers.processes import MissingDependency
from harness.providers.wiring import find_litellm, litellm_pin

__all__ = ["Item", "diagnose"]


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    found: str | None
    fix: str
    required: bool = True


def _which(name: str) -> str | None:
    import glob

    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)


def diagnose() -> list[Item]:
    items = [Item("python >= 3.11", sys.version.split()[0] if sys.version_info >= (3, 11) else None,
                  "install Python 3.11 or newer")]
    for binary, package in (("redis-server", "redis-server"), ("initdb", "postgresql"), ("postgres", "postgresql"),
                            ("pg_isready", "postgresql")):
        items.append(Item(binary, _which(binary), f"sudo apt-get install -y {package}   (or: make deps)"))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
            found: str | None = "present"
        except KeyError:
            found = None
        items.append(Item("user postgres (root runs Postgres as it)", found, "sudo apt-get install -y postgresql"))
    try:
        find_litellm()
        pin = litellm_pin()
        version = pin.get("litellm")
        pinned = pin.get("litellm_pinned")
        found = f"{version} (lock pins {pinned})" if version == pinned else None
        fix = f"installed {version} != pinned {pinned}: run `make gateway`"
        items.append(Item("LiteLLM proxy (pinned)", found, fix))
    except MissingDependency as exc:
        items.append(Item("LiteLLM proxy (pinned)", None, str(exc)))
    real = shutil.which("toxiproxy-server")
    items.append(Item("toxiproxy-server (fault proxy)",
                      real or "harness stand-in (python -m harness.standins.toxiproxy)", "", required=False))
    items.append(Item("wrk (benchmarks)", shutil.which("wrk"), "sudo apt-get install -y wrk", required=False))
    items.append(Item("docker (containers provider)", shutil.which("docker"), "sudo apt-get install -y docker.io",
                      required=False))
    items.append(Item("Docker Compose v2 (compose provider)", _compose_version(), "make compose-ready   (installs "
                      "the hash-pinned docker compose plugin)", required=False))
    items.append(_n8n())
    from harness.alerting.rig import BINARIES

    for names in BINARIES.values():
        found = next((path for path in map(shutil.which, names) if path), None)
        items.append(Item(f"{names[0]} (harness alerting)", found, f"sudo apt-get install -y {names[0]}   "
                                                                    "(or: make deps-alerting)", required=False))
    items += _images()
    return items


def _n8n() -> Item:
    """router: n8n: the pinned n8n (with its own Node) in the cache folder, or how to install it."""
    from harness.providers.n8n import N8nInstall

    try:
        install = N8nInstall.find()
        found: str | None = f"{install.version} in {install.folder}"
    except MissingDependency:
        found = None
    return Item(f"n8n {N8nInstall.pinned_version()} (router: n8n)", found, "make n8n   (Node 24 and n8n from npm "
                "into ~/.cache/gateway-harness; ~7.5 min and ~3.3 GB the first time)", required=False)


def _images() -> list[Item]:
    """Containers provider: each image present (and whether built here), or how to get it."""
    from harness.images import IMAGES, MissingImage, present

    try:
        found = {name: present(spec.tag) for name, spec in IMAGES.items()}
    except MissingImage:
        return []
    except OSError:
        return []
    if all(v is None for v in found.values()) and not _daemon():
        return [Item("Docker daemon (containers provider)", None, "start dockerd (or set DOCKER_HOST)",
                     required=False)]
    return [Item(f"image {spec.tag}", (f"{found[name]['id']}, built locally" if found[name]["built_locally"] == "true"
                                       else f"{found[name]['id']}, pulled") if found[name] else None,
                 f"harness images build {name}   (or docker pull {spec.tag} where a registry is reachable)",
                 required=False) for name, spec in IMAGES.items()]


def _compose_version() -> str | None:
    import subprocess

    try:
        result = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True,
                                timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _daemon() -> bool:
    import subprocess

    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0
