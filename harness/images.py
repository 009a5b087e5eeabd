"""Local equivalents of every image the containers provider needs, built without a registry.

A Debian bookworm base comes from `debootstrap --variant=minbase` and `docker import`; the rest are
Dockerfiles in `stack/images/` on top of it. Images take the names the provider asks for by default
(`redis:7`, `postgres:15`, `ghcr.io/berriai/litellm:...`), so official ones work the same where a
registry is reachable; each local build carries the label `org.gateway-harness.built-locally`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.target import REPO

__all__ = ["IMAGES", "RUN_LABEL", "ImageSpec", "MissingImage", "build", "build_litellm", "describe", "present",
           "recipe", "stale"]

LITELLM_VERSION = "1.103.0"
RUN_LABEL = "org.gateway-harness.run"  # on every container, network and volume a run starts: the reaper's key
BASE = "gateway-harness/bookworm:base"
MIRROR = "http://deb.debian.org/debian"
_HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


class MissingImage(RuntimeError):
    """An image the provider needs is neither present nor pullable; the message names the fix."""


@dataclass(frozen=True)
class ImageSpec:
    name: str  # what the target's `images:` mapping calls it
    tag: str  # the default reference, also the local build's tag
    dockerfile: Path | None = None  # None: the debootstrap base
    context: Path | None = None
    inputs: tuple[str, ...] = ()  # globs under `context` the image is built from: a change means a rebuild


IMAGES: dict[str, ImageSpec] = {spec.name: spec for spec in (
    ImageSpec("base", BASE),
    ImageSpec("python", "gateway-harness/python:3.11", REPO / "stack/images/python/Dockerfile",
              REPO / "stack/images/python"),
    ImageSpec("services", "gateway-harness/services:latest", REPO / "stack/images/services/Dockerfile", REPO,
              ("pyproject.toml", "harness/**/*.py", "stack/router/*.py", "stack/bot/*.py",
               "stack/observer/*.py")),
    ImageSpec("litellm", f"ghcr.io/berriai/litellm:main-v{LITELLM_VERSION}", REPO / "stack/images/litellm/Dockerfile",
              REPO / "stack/litellm", ("requirements.lock",)),
    ImageSpec("redis", "redis:7", REPO / "stack/images/redis/Dockerfile", REPO / "stack/images/redis"),
    ImageSpec("postgres", "postgres:15", REPO / "stack/images/postgres/Dockerfile", REPO / "stack/images/postgres",
              ("entrypoint.sh",)),
)}


_PARENT = {"python": "base", "services": "python", "litellm": "python", "redis": "base", "postgres": "base"}


def recipe(name: str) -> str:
    """A digest of what the image is built from (its Dockerfile, inputs and parent's recipe)."""
    spec = IMAGES[name]
    digest = hashlib.sha256(recipe(_PARENT[name]).encode() if name in _PARENT else b"")
    if spec.dockerfile is not None and spec.context is not None:
        digest.update(spec.dockerfile.read_bytes())
        for pattern in spec.inputs:
            for path in sorted(spec.context.glob(pattern)):
                digest.update(str(path.relative_to(spec.context)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _docker(*args: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    if shutil.which("docker") is None:
        raise MissingImage("no docker client: run `apt-get install -y docker.io` and start dockerd")
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, **kwargs)  # type: ignore[call-overload]


def present(tag: str) -> dict[str, str] | None:
    """The image's id and whether it was built here, or None when docker does not have it."""
    result = _docker("image", "inspect", tag, check=False)
    if result.returncode:
        return None
    info = json.loads(result.stdout)[0]
    labels = (info.get("Config") or {}).get("Labels") or {}
    return {"id": info["Id"][7:19], "built_locally": labels.get("org.gateway-harness.built-locally", "false"),
            "recipe": labels.get("org.gateway-harness.recipe", "")}


def stale(name: str) -> bool:
    """A local build whose Dockerfile or inputs changed since (the tag alone cannot tell)."""
    found = present(IMAGES[name].tag)
    return found is not None and found["built_locally"] == "true" and name != "base" and \
        found["recipe"] != recipe(name)


def describe() -> dict[str, str]:
    """For results and doctor: each image tag and where it came from."""
    out = {}
    for spec in IMAGES.values():
        found = present(spec.tag)
        origin = "built locally" if found and found["built_locally"] == "true" else "pulled"
        if found and stale(spec.name):
            origin += ", STALE: run `harness images build`"
        out[spec.name] = f"{spec.tag} ({origin}, {found['id']})" if found else f"{spec.tag} (missing)"
    return out


def _base(log: Callable[[str], None]) -> None:
    if shutil.which("debootstrap") is None:
        raise MissingImage("debootstrap missing: run `apt-get install -y debootstrap`")
    with tempfile.TemporaryDirectory(prefix="harness-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        log(f"debootstrap --variant=minbase bookworm ({MIRROR})")
        step = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(root), MIRROR],
                              capture_output=True, text=True)
        if step.returncode:
            tail = " | ".join(step.stderr.strip().splitlines()[-3:])
            raise MissingImage(f"debootstrap failed ({tail}); check that {MIRROR} is reachable")
        if _HOST_CA.exists():
            # a TLS-inspecting proxy's CA lives in the host bundle: pip in the images needs it too
            target = root / "usr/local/share/ca-certificates/host-bundle.crt"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(_HOST_CA, target)
        (root / "etc/apt/apt.conf.d/90harness").write_text('APT::Install-Recommends "false";\n')
        log(f"docker import -> {BASE}")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(["docker", "import", "--change", "ENV PIP_CERT=/usr/local/share/ca-certificates/"
                                   "host-bundle.crt", "--change",
                                   "LABEL org.gateway-harness.built-locally=true", "-", BASE],
                                  stdin=tar.stdout, capture_output=True, text=True)
        tar.wait()
        if imported.returncode:
            raise MissingImage(f"docker import failed: {imported.stderr.strip()[-300:]}")


def build(names: list[str] | None = None, force: bool = False, log: Callable[[str], None] = print) -> list[str]:
    """Builds the named images (default all) in dependency order, skipping present, current ones unless `force`."""
    wanted = names or list(IMAGES)
    unknown = [n for n in wanted if n not in IMAGES]
    if unknown:
        raise MissingImage(f"unknown image {unknown[0]!r}; known: {', '.join(IMAGES)}")
    closure = set(wanted)
    for name in reversed(list(IMAGES)):  # parents come before children in IMAGES
        if name in closure and name in _PARENT:
            closure.add(_PARENT[name])
    built = []
    for spec in IMAGES.values():
        if spec.name not in closure or (present(spec.tag) and not stale(spec.name) and not force):
            continue
        if spec.dockerfile is None:
            _base(log)
        else:
            log(f"docker build {spec.tag}")
            _docker_build(spec, spec.tag, recipe(spec.name), spec.context)
        built.append(spec.tag)
    return built


def _docker_build(spec: ImageSpec, tag: str, digest: str, context: Path | None) -> None:
    result = _docker("build", "-q", "-f", str(spec.dockerfile), "-t", tag, "--label",
                     f"org.gateway-harness.recipe={digest}", str(context),
                     check=False, env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin"})
    if result.returncode:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-4:])
        raise MissingImage(f"building {tag} failed: {tail}")


def build_litellm(lock: Path, version: str, log: Callable[[str], None] = print) -> str:
    """The gateway image of another LiteLLM (a candidate of `harness upgrade-check`), built by the same
    Dockerfile from that release's lock; tagged by the lock's hash, so it is built once per lock."""
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:12]
    tag = f"gateway-harness/litellm:{version}-{digest}"
    if present(tag) is None:
        build(["python"], log=log)
        log(f"docker build {tag} (from {lock})")
        with tempfile.TemporaryDirectory(prefix="harness-litellm-") as tmp:
            shutil.copy(lock, Path(tmp) / "requirements.lock")
            _docker_build(IMAGES["litellm"], tag, digest, Path(tmp))
    return tag
