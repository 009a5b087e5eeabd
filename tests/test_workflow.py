"""The GitHub Actions workflow users copy: valid, bounded, and calling make targets that exist."""

from __future__ import annotations

import re
import subprocess

import yaml

from harness.target import REPO

WORKFLOW = REPO / ".github" / "workflows" / "gateway-harness.yml"


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(), re.M))


def test_the_workflow_is_valid_and_bounded() -> None:
    data = yaml.safe_load(WORKFLOW.read_text())
    triggers = data[True]  # YAML 1.1 reads the key `on` as a boolean
    assert {"pull_request", "schedule", "workflow_dispatch"} <= set(triggers)
    assert data["permissions"] == {"contents": "read"}
    for name, job in data["jobs"].items():
        assert job["timeout-minutes"] <= 60, name
        runs = [step["run"] for step in job["steps"] if "run" in step]
        assert runs, name
        for command in runs:
            target = command.split()[1]
            assert command.startswith("make ") and target in _make_targets(), command
        uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
        assert uploads and uploads[0]["if"] == "always()" and uploads[0]["with"]["path"] == "reports/"


def test_the_make_targets_it_calls_resolve() -> None:
    for target in ("acceptance", "chaos", "alerting"):
        dry = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True)
        assert dry.returncode == 0, dry.stderr
        assert f"harness {target}" in dry.stdout
