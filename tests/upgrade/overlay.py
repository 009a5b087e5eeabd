"""A candidate "release" made from the pinned LiteLLM: a venv whose own copy of the `litellm` package (patched)
shadows the pinned venv's, which supplies every other package through a .pth line. Seconds to make, where a
full install from the lock takes minutes, and the only difference from the pinned gateway is the patch."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from harness.providers.wiring import find_litellm

__all__ = ["break_fallbacks", "overlay_venv", "refuse_to_start", "rename_pre_call_hook", "site_packages"]


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


def overlay_venv(dest: Path, patch: Callable[[Path], None] | None = None) -> Path:
    """A venv at `dest` running the pinned LiteLLM with `patch(litellm_package_dir)` applied; returns its
    bin/litellm."""
    pinned = find_litellm().parent.parent
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    own, theirs = site_packages(dest), site_packages(pinned)
    shutil.copytree(theirs / "litellm", own / "litellm", ignore=shutil.ignore_patterns("__pycache__"))
    for dist in theirs.glob("litellm-*.dist-info"):
        shutil.copytree(dist, own / dist.name)
    # after the venv's own site-packages on sys.path: the copy above shadows the pinned litellm
    (own / "pinned-gateway.pth").write_text(f"{theirs}\n")
    if patch is not None:
        patch(own / "litellm")
    binary = dest / "bin" / "litellm"
    binary.write_text(f"#!{dest / 'bin' / 'python'}\nimport sys\nfrom litellm import run_server\n"
                      "sys.exit(run_server())\n")
    binary.chmod(0o755)
    return binary


def break_fallbacks(package: Path) -> None:
    """The planted regression: the router gives up on the first failure instead of walking its fallbacks."""
    path = package / "router_utils" / "fallback_event_handlers.py"
    text = path.read_text()
    anchor = "    ### BASE CASE ### MAX FALLBACK DEPTH REACHED\n"
    assert anchor in text, f"{path}: the fallback loop moved; update the planted regression"
    path.write_text(text.replace(anchor, "    raise original_exception  # planted: no fallbacks\n" + anchor, 1))


def rename_pre_call_hook(package: Path) -> None:
    """An API change a hook cannot survive: CustomLogger.async_pre_call_hook under another name."""
    path = package / "integrations" / "custom_logger.py"
    text = path.read_text()
    assert "async def async_pre_call_hook(" in text
    path.write_text(text.replace("async def async_pre_call_hook(", "async def async_pre_request_hook(", 1))


def refuse_to_start(package: Path) -> None:
    """A release whose proxy fails at start-up (its config loader raises), while every module still imports."""
    path = package / "proxy" / "proxy_server.py"
    text = path.read_text()
    anchor = "    async def load_config(self, router: litellm.Router | None, config_file_path: str):\n"
    assert anchor in text, f"{path}: load_config moved; update the planted start-up failure"
    planted = '        raise RuntimeError("planted: this release does not start")\n'
    path.write_text(text.replace(anchor, anchor + planted, 1))
