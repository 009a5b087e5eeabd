"""Candidates: refused releases, bad numbers and unknown releases are one-line errors; a resolution becomes a
hash-pinned lock; an installed venv is taken with its version and lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from packaging.version import Version

from harness.upgrade import candidate as cand
from harness.upgrade.candidate import CandidateError, installed, resolve_candidate, uploaded_at, write_lock
from tests.upgrade.overlay import overlay_venv

INDEX_PAGE = {"files": [
    {"filename": "litellm-1.100.0-cp310-abi3-manylinux_2_28_x86_64.whl", "upload-time": "2026-09-06T00:22:31Z"},
    {"filename": "litellm-1.100.0.tar.gz", "upload-time": "2026-09-06T00:22:46.023754Z"},
    {"filename": "litellm-1.101.0.tar.gz", "upload-time": "2026-09-12T00:00:00Z"},
    {"filename": "litellm-1.99.4.tar.gz", "upload-time": "2026-09-01T00:00:00Z"},
    {"filename": "litellm-1.100.1.tar.gz", "upload-time": "2026-09-08T00:00:00Z", "yanked": "broken"}]}


@pytest.mark.parametrize("spec", ["1.82.7", "1.82.8"])
def test_the_malicious_releases_are_never_installed(spec: str, tmp_path: Path) -> None:
    with pytest.raises(CandidateError, match="known-malicious") as caught:
        resolve_candidate(spec, cache=tmp_path)
    assert "\n" not in str(caught.value) and not list(tmp_path.iterdir())


def test_a_release_on_the_deny_list_and_a_bad_number_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CandidateError, match="your --deny list"):
        resolve_candidate("1.100.0", denied=frozenset({"1.100.0"}), cache=tmp_path)
    with pytest.raises(CandidateError, match="not a release number"):
        resolve_candidate("latest-please", cache=tmp_path)


def _index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cand.httpx, "get", lambda url, **kw: httpx.Response(
        200, json=INDEX_PAGE, request=httpx.Request("GET", url)))


def test_the_release_time_is_its_last_file_and_an_unknown_release_names_its_neighbours(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _index(monkeypatch)
    assert uploaded_at(Version("1.100.0")).isoformat() == "2026-09-06T00:22:46.023754+00:00"
    with pytest.raises(CandidateError, match=r"litellm 1\.100\.1 is not on .*nearest: 1\.99\.4, 1\.100\.0, 1\.101"):
        uploaded_at(Version("1.100.1"))  # yanked: not a candidate


def test_a_resolution_becomes_a_lock_with_one_hash_per_package(tmp_path: Path) -> None:
    report = {"install": [
        {"metadata": {"name": "openai", "version": "2.54.0"},
         "download_info": {"archive_info": {"hashes": {"sha256": "ab" * 32}}}},
        {"metadata": {"name": "litellm", "version": "1.100.0"},
         "download_info": {"archive_info": {"hashes": {"sha256": "cd" * 32}}}}]}
    write_lock(report, tmp_path / "requirements.lock", note="test")
    lines = (tmp_path / "requirements.lock").read_text().splitlines()
    assert lines[2:] == [f"litellm==1.100.0 --hash=sha256:{'cd' * 32}", f"openai==2.54.0 --hash=sha256:{'ab' * 32}"]
    report["install"][0]["download_info"] = {"url": "file:///x"}
    with pytest.raises(CandidateError, match="openai: the index gave no sha256"):
        write_lock(report, tmp_path / "other.lock", note="test")


def test_a_lock_written_here_is_one_pip_accepts_with_require_hashes(tmp_path: Path) -> None:
    wheel = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    found = sorted(wheel.glob("six-*.dist-info")) or sorted(wheel.glob("idna-*.dist-info"))
    assert found, "a small installed package to lock"
    name, version = found[0].name.removesuffix(".dist-info").split("-")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed",
                           "--no-deps", "--report", str(tmp_path / "r.json"), f"{name}=={version}"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    write_lock(json.loads((tmp_path / "r.json").read_text()), tmp_path / "requirements.lock", note="test")
    again = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes", "-d",
                            str(tmp_path / "dl"), "-r", str(tmp_path / "requirements.lock")],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr


def test_an_installed_venv_is_taken_with_its_version_and_lock(tmp_path: Path) -> None:
    binary = overlay_venv(tmp_path / "venv")
    found = installed(tmp_path / "venv")
    assert found.binary == binary and found.version.startswith("1.") and found.lock is None
    (tmp_path / "venv" / "requirements.lock").write_text("litellm==1 --hash=sha256:00\n")
    assert installed(binary).lock_sha256 is not None
    assert resolve_candidate(str(tmp_path / "venv")).binary == binary
    with pytest.raises(CandidateError, match="not an executable litellm"):
        installed(tmp_path / "nothing-here")


def test_a_candidate_gets_the_stacks_requirements_with_litellm_at_its_release(tmp_path: Path) -> None:
    assert cand.candidate_requirements(Version("1.100.0"))[0] == "litellm[proxy]==1.100.0"
    assert "prometheus-client" in cand.candidate_requirements(Version("1.100.0"))
    bad = tmp_path / "req.in"
    bad.write_text("langfuse<3\n")
    with pytest.raises(CandidateError, match="no litellm line"):
        cand.candidate_requirements(Version("1.100.0"), bad)


def test_the_pinned_lock_satisfies_the_stacks_requirements() -> None:
    """requirements.lock is a resolution of requirements.in: every direct requirement is in it, in range."""
    import re

    from packaging.requirements import Requirement

    locked = {m.group(1).lower(): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$",
                                                                   cand.REPO.joinpath(
                                                                       "stack/litellm/requirements.lock").read_text(),
                                                                   re.M)}
    for line in cand.candidate_requirements(Version("1.103.0")):
        requirement = Requirement(line)
        assert requirement.name.lower() in locked, requirement.name
        assert requirement.specifier.contains(locked[requirement.name.lower()]), (line, locked[requirement.name])
