"""SEC-2 and OBS-5: no secret of the stack appears in a trace, a log line or a result file.

The secrets are the ones the stack was given (master key, provider keys, team keys, the Langfuse
secret); a hit is reported by where it was found, with the secret itself masked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from harness.checks._calls import chat
from harness.gateway import new_trace_id
from harness.registry import check
from harness.results import Outcome
from harness.spend import Estimate
from harness.stack import Stack

__all__ = ["DEFAULT_CREDENTIALS", "default_credentials", "secrets_in_artifacts", "secrets_in_traces", "secrets_of"]

# the Fly.io plan's plain-text admin password, LiteLLM's documented example master key, and the usual suspects
DEFAULT_CREDENTIALS = [("justin@hotrodan.com", "HotRod@n2024!LLM"), ("admin", "HotRod@n2024!LLM"),
                       ("admin", "sk-1234"), ("admin", "admin"), ("admin", "password"), ("admin", "changeme"),
                       ("admin", "")]
DEFAULT_KEYS = ["sk-1234", "sk-admin", "changeme"]


def secrets_of(stack: Stack) -> dict[str, str]:
    # the bot token is masked in reports but not scanned for: the Bot API's own URLs carry it by design
    return {name: value for name, value in stack.named_secrets().items()
            if len(value) >= 8 and name != "telegram token"}


def _hits(text: str, where: str, secrets: dict[str, str]) -> list[str]:
    return [f"{name} in {where}" for name, value in secrets.items() if value in text]


@check("OBS-5", spend=Estimate(1))
def secrets_in_traces(stack: Stack) -> Outcome:
    """OBS-5: a traced call of its own, then every trace and observation body, searched for every secret."""
    langfuse = stack.langfuse()
    if langfuse is None:
        return Outcome(id="OBS-5", passed=False, detail="no Langfuse configured for this stack")
    secrets = {k: v for k, v in secrets_of(stack).items() if k != "langfuse secret key"}
    trace_id = new_trace_id()
    call = chat(stack, stack.target.plan.cheap_model, metadata={"trace_id": trace_id, "trace_name": "harness-obs5"})
    langfuse.wait_for_trace(trace_id, stack.target.threshold("OBS-1"), since=call.started)
    hits: list[str] = []
    traces = langfuse.traces()
    for trace in traces:
        detail: dict[str, Any] | None = langfuse.trace(trace["id"])
        hits += _hits(json.dumps(detail or trace), f"trace {trace['id']}", secrets)
    langfuse.close()
    return Outcome(id="OBS-5", passed=not hits and bool(traces), measured=len(hits), threshold=0, unit="hits",
                   detail="; ".join(hits[:5]) or f"{len(traces)} traces searched for {len(secrets)} secrets",
                   evidence={"traces": len(traces)})


@check("SEC-2")
def secrets_in_artifacts(stack: Stack, extra_dirs: tuple[Path, ...] = ()) -> Outcome:
    """SEC-2: every log and result file the run wrote, searched for every secret."""
    secrets = secrets_of(stack)
    folders = [d for d in (stack.log_dir, *(extra_dirs or ())) if d is not None and d.exists()]
    hits: list[str] = []
    files = 0
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in ("", ".log", ".json",
                                                                                        ".txt", ".html", ".xml")):
            files += 1
            text = path.read_text(errors="replace")
            for line_no, line in enumerate(text.splitlines(), start=1):
                hits += _hits(line, f"{path.name}:{line_no}", secrets)
    if not folders:
        return Outcome(id="SEC-2", passed=False, detail="no log or report folder to search")
    return Outcome(id="SEC-2", passed=not hits, measured=len(hits), threshold=0, unit="hits",
                   detail="; ".join(hits[:5]) or f"{files} files searched for {len(secrets)} secrets",
                   evidence={"files": files, "folders": [str(f) for f in folders]})


@check("SEC-1")
def default_credentials(stack: Stack) -> Outcome:
    """SEC-1: the gateway's UI login and its API refuse well-known default passwords and keys."""
    accepted: list[str] = []
    tried = 0
    with httpx.Client(base_url=stack.gateway_url, timeout=15, follow_redirects=False) as client:
        for key in DEFAULT_KEYS:
            tried += 1
            if client.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200:
                accepted.append(f"API key {key!r}")
        login_exists = client.post("/login", data={"username": "", "password": ""}).status_code != 404
        for username, password in DEFAULT_CREDENTIALS if login_exists else []:
            tried += 1
            response = client.post("/login", data={"username": username, "password": password})
            # only an explicit refusal counts: LiteLLM without its database answers good credentials with
            # 400 "Not connected to DB" after checking them, bad ones with 401
            if response.status_code not in (401, 403, 429):
                accepted.append(f"UI login {username}/{'*' * len(password)} (HTTP {response.status_code})")
    return Outcome(id="SEC-1", passed=not accepted, measured=len(accepted), threshold=0, unit="accepted",
                   detail="; ".join(accepted) or f"{tried} default credentials refused"
                   + ("" if login_exists else " (no UI login on this gateway)"),
                   evidence={"tried": tried, "ui_login": login_exists})
