"""An image's recipe digest follows its Dockerfile, its inputs and its parent, so a changed lock file
(a new dependency of the gateway) makes `harness images build` rebuild an image whose tag is the same."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness import images


@pytest.fixture
def fake_litellm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM gateway-harness/python:3.11\n")
    (tmp_path / "requirements.lock").write_text("litellm==1.103.0\n")
    spec = dataclasses.replace(images.IMAGES["litellm"], dockerfile=tmp_path / "Dockerfile", context=tmp_path)
    monkeypatch.setitem(images.IMAGES, "litellm", spec)
    return tmp_path


def test_the_recipe_changes_with_an_input_and_only_then(fake_litellm: Path) -> None:
    before = images.recipe("litellm")
    assert images.recipe("litellm") == before
    (fake_litellm / "unrelated.txt").write_text("not an input")
    assert images.recipe("litellm") == before
    (fake_litellm / "requirements.lock").write_text("litellm==1.103.0\nprometheus-client==0.26.0\n")
    assert images.recipe("litellm") != before


def test_the_recipe_follows_the_parent(fake_litellm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = images.recipe("litellm")
    parent = tmp_path / "python.Dockerfile"
    parent.write_text("FROM gateway-harness/bookworm:base\nRUN apt-get install -y python3.12\n")
    monkeypatch.setitem(images.IMAGES, "python", dataclasses.replace(images.IMAGES["python"], dockerfile=parent))
    assert images.recipe("litellm") != before


def test_a_local_build_with_another_recipe_is_stale(fake_litellm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = {"id": "abc", "built_locally": "true", "recipe": images.recipe("litellm")}
    monkeypatch.setattr(images, "present", lambda tag: built)
    assert not images.stale("litellm")
    (fake_litellm / "requirements.lock").write_text("litellm==1.103.0\nprometheus-client==0.26.0\n")
    assert images.stale("litellm")
    monkeypatch.setattr(images, "present", lambda tag: {**built, "built_locally": "false"})
    assert not images.stale("litellm")  # a pulled official image is never rebuilt over


def test_a_candidate_image_is_built_from_its_lock_once_and_tagged_by_it(tmp_path: Path) -> None:
    """The upgrade gate's containers images: the real Dockerfile on a lock (here the pinned one under a
    candidate's name: the layers are the pinned image's, so it builds in seconds)."""
    if images.present(images.IMAGES["python"].tag) is None:
        pytest.skip("no local python image: `harness images build` first (make containers-ready)")
    lock = tmp_path / "requirements.lock"
    lock.write_text(images.REPO.joinpath("stack/litellm/requirements.lock").read_text())
    lines: list[str] = []
    tag = images.build_litellm(lock, "1.103.0", log=lines.append)
    try:
        found = images.present(tag)
        assert tag.startswith("gateway-harness/litellm:1.103.0-") and found and found["built_locally"] == "true"
        assert found["recipe"] == tag.rsplit("-", 1)[1] and any("docker build" in line for line in lines)
        lines.clear()
        assert images.build_litellm(lock, "1.103.0", log=lines.append) == tag and lines == []
    finally:
        images._docker("rmi", tag, check=False)


def test_the_containers_provider_runs_the_candidate_image_it_is_given(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    from harness.providers.containers import ContainersProvider
    from harness.target import Target

    provider = ContainersProvider(Target.embedded().model_copy(update={"provider": "containers"}), tmp_path)
    monkeypatch.setattr("harness.providers.containers.present", lambda tag: {"id": "x"})
    assert provider._image("litellm") == images.IMAGES["litellm"].tag
    monkeypatch.setenv("HARNESS_LITELLM_IMAGE", "gateway-harness/litellm:9.9.9-abc")
    assert provider._image("litellm") == "gateway-harness/litellm:9.9.9-abc"
    assert provider._image("redis") == images.IMAGES["redis"].tag


_IMPORT_ALL = """
import importlib, importlib.abc, importlib.util, json, sys


class NotInTheImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not installed in the services image)", name=name)
        return None


BLOCKED = set(json.loads(sys.argv[3]))
sys.meta_path.insert(0, NotInTheImage())
for module in sys.argv[1].split(","):
    importlib.import_module(module)
for index, path in enumerate(sys.argv[2].split(",")):
    sys.path.insert(0, path.rsplit("/", 1)[0])  # as `python path` runs it: its own folder first
    spec = importlib.util.spec_from_file_location(f"_script_{index}", path)  # not __main__: main() stays unrun
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
"""


def _closure(requirements: list[str]) -> set[str]:
    """The distributions `pip install requirements` brings, read from this venv's metadata (no extras)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: set[str] = set()
    todo = [Requirement(line) for line in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found.add(name)
        for line in metadata.requires(requirement.name) or []:
            child = Requirement(line)
            if child.marker is None or child.marker.evaluate({"extra": ""}):
                todo.append(child)
    return found


def test_the_services_image_has_every_module_its_services_import() -> None:
    """The services image installs a short list of packages, not the harness's dependencies; a harness module
    that starts importing something else (the target model pulling in the load driver, and with it psutil) made
    every stand-in container die at start (CI: 'mockllm did not become ready')."""
    import json
    import re
    import subprocess
    import sys
    from importlib import metadata

    from packaging.utils import canonicalize_name

    dockerfile = images.IMAGES["services"].dockerfile
    assert dockerfile is not None
    requirements = re.findall(r'"([A-Za-z][\w.-]*(?:\[[\w,]+\])?[<>=!~][^"]*)"', dockerfile.read_text())
    assert "pydantic>=2.7,<2.14" in requirements, requirements  # the pattern still reads the pip line
    allowed = _closure(requirements)
    from harness.providers._override import _MODULE

    # what runs in it: the stand-ins, and the load workers of --worker-provider containers
    modules = [f"harness.standins.{name}.__main__" for name in sorted(set(_MODULE.values()))] + ["harness.load.runner"]
    scripts = [str(images.REPO / p) for p in ("stack/router/router.py", "stack/bot/bot.py",
                                              "stack/observer/observer.py")]
    owners = metadata.packages_distributions()
    blocked = sorted(name for name, dists in owners.items()
                     if name != "harness" and not {canonicalize_name(d) for d in dists} & allowed)
    done = subprocess.run([sys.executable, "-c", _IMPORT_ALL, ",".join(modules), ",".join(scripts),
                           json.dumps(blocked)], capture_output=True, text=True, cwd=images.REPO, timeout=120)
    # an optional import (brotli for httpx, say) is refused quietly; a required one ends the import here
    assert done.returncode == 0, f"a service imports what {dockerfile} does not install: {done.stderr[-1500:]}"
