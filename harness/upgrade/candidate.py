"""A candidate LiteLLM release in its own venv, installed only from a lock whose hashes are recorded.

The candidate is resolved as of its own release day (pip's `--uploaded-prior-to` its upload time plus a
day), so an older release gets the dependencies it was released with rather than today's (a newer
`openai` breaks some of them); the resolution is written as a hash-pinned lock, and the venv is installed
from that lock with `--require-hashes --no-deps`, exactly as `make gateway` installs the pinned one.
A candidate can also be a LiteLLM already installed (a path to its venv or binary): a patched build, a
fork, a release installed by hand.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from harness.target import REPO

__all__ = ["DENIED", "REQUIREMENTS", "Candidate", "CandidateError", "candidate_requirements", "installed",
           "litellm_dist", "resolve_candidate"]

# the two releases published with a credential stealer in them (March 2026); never installed, whatever is asked
DENIED = frozenset({"1.82.7", "1.82.8"})
CACHE = Path(os.environ.get("HARNESS_LITELLM_HOME", Path.home() / ".cache" / "gateway-harness" / "litellm"))
_INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
_LOCK = "requirements.lock"
# the stack's direct requirements besides litellm (its callbacks' packages): a candidate gets them too
REQUIREMENTS = REPO / "stack" / "litellm" / "requirements.in"


class CandidateError(RuntimeError):
    """A candidate cannot be installed or used; the message is one line naming the fix. `code` is the CLI's
    exit code: 2 for what was asked (a refused or unknown release, a bad path), 3 for the install failing."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Candidate:
    """A LiteLLM the suites can run on: its binary, version, and the lock it was installed from."""

    label: str
    version: str
    binary: Path
    lock: Path | None = None
    image: str | None = None  # provider containers: the gateway image built from `lock`

    @property
    def lock_sha256(self) -> str | None:
        return hashlib.sha256(self.lock.read_bytes()).hexdigest() if self.lock and self.lock.exists() else None

    @property
    def python(self) -> Path:
        return self.binary.parent / "python"


def litellm_dist(binary: Path) -> Path | None:
    """The litellm dist-info of the venv a litellm binary belongs to (its version and RECORD)."""
    found = sorted((binary.parent.parent / "lib").glob("python*/site-packages/litellm-*.dist-info"))
    return found[0] if found else None


def installed(binary: Path, *, label: str | None = None, lock: Path | None = None) -> Candidate:
    """An already installed LiteLLM: its version from the venv's dist-info, its lock if the venv has one."""
    binary = binary / "bin" / "litellm" if binary.is_dir() else binary
    if not os.access(binary, os.X_OK):
        raise CandidateError(f"{binary}: not an executable litellm; give a venv folder, its bin/litellm, or a "
                             "release number such as 1.100.0")
    dist = litellm_dist(binary)
    if dist is None:
        raise CandidateError(f"{binary}: no litellm dist-info next to it; is this a venv with litellm installed?")
    version = dist.name.removeprefix("litellm-").removesuffix(".dist-info")
    own = binary.parent.parent / _LOCK
    return Candidate(label=label or version, version=version, binary=binary,
                     lock=lock if lock is not None else own if own.exists() else None)


def _check_version(spec: str, denied: frozenset[str]) -> Version:
    try:
        version = Version(spec)
    except InvalidVersion:
        raise CandidateError(f"--litellm {spec}: not a release number or an installed litellm; e.g. --litellm "
                             "1.100.0 or --litellm /opt/litellm-venv") from None
    if str(version) in DENIED:
        raise CandidateError(f"--litellm {spec}: refused, a known-malicious release (1.82.7 and 1.82.8 carried a "
                             "credential stealer); pick another release")
    if str(version) in denied:
        raise CandidateError(f"--litellm {spec}: refused, it is on your --deny list")
    return version


def candidate_requirements(version: Version, requirements: Path = REQUIREMENTS) -> list[str]:
    """The requirements file's lines with litellm's at `version` (its extras kept)."""
    lines = [line.partition("#")[0].strip() for line in requirements.read_text().splitlines()]
    out, found = [], False
    for line in filter(None, lines):
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise CandidateError(f"{requirements}: {line!r} is not a requirement ({exc}); fix the line") from None
        if requirement.name.lower() == "litellm":
            found = True
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            out.insert(0, f"litellm{extras}=={version}")
        else:
            out.append(line)
    if not found:
        raise CandidateError(f"{requirements}: no litellm line; add `litellm[proxy]` to it")
    return out


def uploaded_at(version: Version, index: str = _INDEX) -> datetime:
    """When the release's last file reached the index (PEP 691 JSON, PEP 700 upload-time)."""
    try:
        reply = httpx.get(f"{index}/litellm/", headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                          timeout=60, follow_redirects=True)
        reply.raise_for_status()
        files = reply.json()["files"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise CandidateError(f"cannot read litellm's release list from {index}: {exc}; check the package "
                             "index (PIP_INDEX_URL) or give an installed litellm's path instead", 3) from None
    times = []
    known = set()
    for item in files:
        match = re.match(r"litellm-([^-]+?)(?:\.tar\.gz|-.*\.whl)$", item.get("filename", ""))
        if not match:
            continue
        try:
            found = Version(match.group(1))
        except InvalidVersion:
            continue
        known.add(found)
        if found == version and item.get("upload-time") and not item.get("yanked"):
            times.append(datetime.fromisoformat(item["upload-time"].replace("Z", "+00:00")))
    if not times:
        releases = sorted(v for v in known if not v.is_prerelease)
        below = [v for v in releases if v < version][-2:]
        hint = f" (nearest: {', '.join(str(v) for v in below + [v for v in releases if v > version][:2])})" \
            if releases else ""
        raise CandidateError(f"litellm {version} is not on {index} (or has no upload time){hint}")
    return max(times)


def _pip(python: Path, *args: str, log_file: Path) -> None:
    with log_file.open("a") as log:
        log.write(f"$ pip {' '.join(args)}\n")
        log.flush()
        done = subprocess.run([str(python), "-m", "pip", *args], stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        lines = [line for line in log_file.read_text(errors="replace").splitlines()
                 if line.strip() and "is ignored: it is neither" not in line]
        errors = [line.strip() for line in lines if line.startswith("ERROR")]
        reason = errors[-1] if errors else lines[-1] if lines else "no output"
        raise CandidateError(f"pip {args[0]} failed: {reason[:300]} (log: {log_file})", 3)


def write_lock(report: dict, path: Path, *, note: str) -> None:
    """A requirements file with one hash per package, from pip's installation report."""
    lines = [f"# {note}", "# installed with: pip install --require-hashes --no-deps -r requirements.lock"]
    for item in sorted(report["install"], key=lambda i: i["metadata"]["name"].lower()):
        hashes = item["download_info"].get("archive_info", {}).get("hashes", {})
        if "sha256" not in hashes:
            raise CandidateError(f"{item['metadata']['name']}: the index gave no sha256; cannot lock it", 3)
        lines.append(f"{item['metadata']['name']}=={item['metadata']['version']} --hash=sha256:{hashes['sha256']}")
    path.write_text("\n".join(lines) + "\n")


def resolve_candidate(spec: str, *, denied: frozenset[str] = frozenset(), cache: Path = CACHE,
                      requirements: Path = REQUIREMENTS, log: Callable[[str], None] = print) -> Candidate:
    """A release number is installed (once per release and requirements; reused while its lock is there), a
    path is taken as installed."""
    if "/" in spec or Path(spec).exists():
        return installed(Path(spec).expanduser().resolve())
    version = _check_version(spec, denied)
    wanted = candidate_requirements(version, requirements)
    home = cache / f"{version}-{hashlib.sha256(chr(10).join(wanted).encode()).hexdigest()[:8]}"
    cache.mkdir(parents=True, exist_ok=True)
    # two gates installing the same candidate at once take turns; the second finds it installed
    with (cache / f"{home.name}.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        return _install(version, wanted, home, log)


def _install(version: Version, wanted: list[str], home: Path, log: Callable[[str], None]) -> Candidate:
    venv = home / "venv"
    marker = venv / ".installed"
    if marker.exists():
        return installed(venv / "bin" / "litellm")
    released = uploaded_at(version)
    cutoff = (released + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    log_file = home / "install.log"
    try:
        log(f"litellm {version}: released {released:%Y-%m-%d}; resolving its dependencies as of {cutoff}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        python = venv / "bin" / "python"
        # --uploaded-prior-to came with pip 26: the installer itself, not the gateway, comes from today's index
        _pip(python, "install", "-q", "pip>=26", log_file=log_file)
        report, lock = home / "resolution.json", venv / _LOCK
        _pip(python, "install", "-q", "--dry-run", "--ignore-installed", "--report", str(report),
             "--uploaded-prior-to", cutoff, *wanted, log_file=log_file)
        write_lock(json.loads(report.read_text()), lock,
                   note=f"{' '.join(wanted)} as resolved by gateway-harness with --uploaded-prior-to {cutoff}")
        log(f"litellm {version}: installing {len(_lines(lock))} locked packages")
        _pip(python, "install", "-q", "--require-hashes", "--no-deps", "-r", str(lock), log_file=log_file)
    except BaseException:
        # a half-made venv is never mistaken for an installed candidate
        if not marker.exists():
            shutil.rmtree(venv, ignore_errors=True)
        raise
    marker.touch()
    return installed(venv / "bin" / "litellm")


def _lines(lock: Path) -> list[str]:
    return [line for line in lock.read_text().splitlines() if line and not line.startswith("#")]
