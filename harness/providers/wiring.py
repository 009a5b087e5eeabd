"""What every provider that starts the reference stack does the same way, whatever runs its services.

The keys of a fresh stack, the pinned LiteLLM and its environment, the team keys file, the Langfuse
stand-in's price seeding, and the Stack put together from the endpoints the provider started: the
local (processes) and containers (Docker) providers differ only in how they start and reach services.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import SecretStr

from harness.capabilities import Capability
from harness.gateway_config import langfuse_transport
from harness.langfuse import LangfuseClient
from harness.providers.processes import MissingDependency
from harness.stack import DirectProvider, ServiceLogs, Stack
from harness.standins.telegram import new_token
from harness.target import (
    REFERENCE_CONFIG,
    REPO,
    Endpoint,
    LangfuseTarget,
    ProxyBudget,
    Target,
    Team,
    read_budget,
    read_teams,
)
from harness.upgrade.candidate import litellm_dist

__all__ = ["LOCK", "TRANSPORTS", "Endpoints", "StackKeys", "assemble", "config_copy", "find_litellm",
           "langfuse_standin", "litellm_env", "litellm_pin", "run_config", "seed_model_prices", "write_team_keys"]

LOCK = REPO / "stack" / "litellm" / "requirements.lock"
TRANSPORTS = {"otlp": "OTLP (langfuse_otel callback)", "ingestion": "ingestion API (langfuse callback)"}
# a stack the harness starts may be driven to its cap and have the reference rigs run against it
OWNED = frozenset({Capability.OWNED})


def find_litellm() -> Path:
    """The pinned LiteLLM: $HARNESS_LITELLM, else the repo's .venv-litellm, else PATH."""
    candidates = [os.environ.get("HARNESS_LITELLM"), str(REPO / ".venv-litellm" / "bin" / "litellm"),
                  shutil.which("litellm")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise MissingDependency("LiteLLM proxy not found: run `make gateway` (installs the pinned litellm[proxy] "
                            "into .venv-litellm) or set HARNESS_LITELLM=/path/to/litellm")


def litellm_pin() -> dict[str, str]:
    """The LiteLLM this run uses: its version, the lock it was installed from (sha256 of the whole file: a
    candidate of `harness upgrade-check` has its own), the repo's pinned version, a fingerprint of its files."""
    info: dict[str, str] = {}
    match = re.search(r"^litellm==(\S+) \\$", LOCK.read_text() if LOCK.exists() else "", re.M)
    if match:
        info["litellm_pinned"] = match.group(1)
    try:
        binary = find_litellm()
    except MissingDependency:
        info["litellm"] = "not installed"
        return info
    dist = litellm_dist(binary)
    if dist is not None:
        info["litellm"] = dist.name.removeprefix("litellm-").removesuffix(".dist-info")
        # a fingerprint of the files actually installed, to compare two runs' gateways
        info["litellm_record_sha256"] = hashlib.sha256((dist / "RECORD").read_bytes()).hexdigest()[:16]
    # `make gateway` and `harness upgrade-check` leave the lock they installed from in the venv
    lock = binary.parent.parent / "requirements.lock"
    info["litellm_lock_sha256"] = hashlib.sha256(lock.read_bytes()).hexdigest()[:16] if lock.exists() else \
        "none: not installed from a lock the harness wrote"
    info["litellm_binary"] = str(binary)
    return info


@dataclass(frozen=True)
class StackKeys:
    """Fresh credentials for one stack: the gateway's master key, one key per mock provider, Langfuse's
    key pair and the chat bot's token."""

    master: str
    providers: dict[str, str]
    langfuse_public: str
    langfuse_secret: str
    telegram_token: str

    @classmethod
    def new(cls, master: str | None = None) -> StackKeys:
        return cls(master=master or f"sk-master-{secrets.token_hex(12)}",
                   providers={name: f"sk-{name}-{secrets.token_hex(12)}" for name in ("openai", "anthropic", "gemini")},
                   langfuse_public=f"pk-lf-{secrets.token_hex(8)}", langfuse_secret=f"sk-lf-{secrets.token_hex(16)}",
                   telegram_token=new_token())

    def generated(self) -> dict[str, SecretStr]:
        """The secrets scans look for, by name (the master and Langfuse keys are in the live target)."""
        return {**{f"provider key {name}": SecretStr(key) for name, key in self.providers.items()},
                "telegram token": SecretStr(self.telegram_token)}


def litellm_env(keys: StackKeys, *, provider_hosts: dict[str, str], redis: tuple[str, int], langfuse_url: str,
                alerts_url: str, teams_file: str, workers: int = 1, scratch: Path | None = None) -> dict[str, str]:
    """The gateway's environment: each provider's base URL (`host:port` of its fault proxy), keys, Redis,
    Langfuse, the budget webhook and the team keys file; `workers` LiteLLM worker processes (NUM_WORKERS),
    their Prometheus samples in `scratch` (LiteLLM's default is one /tmp folder it wipes at every start)."""
    extra = {"NUM_WORKERS": str(workers)} if workers > 1 else {}
    if workers > 1 and scratch is not None:
        extra["PROMETHEUS_MULTIPROC_DIR"] = str(scratch / "prometheus-multiproc")
    return extra | {
        "HARNESS_TEAM_KEYS": teams_file,
        "HARNESS_ALERT_WEBHOOK": f"{alerts_url}/hooks/budget",
        "OPENAI_API_BASE": f"http://{provider_hosts['openai']}/v1",
        "ANTHROPIC_API_BASE": f"http://{provider_hosts['anthropic']}",
        "GEMINI_API_BASE": f"http://{provider_hosts['gemini']}/v1beta",
        "OPENAI_API_KEY": keys.providers["openai"], "ANTHROPIC_API_KEY": keys.providers["anthropic"],
        "GEMINI_API_KEY": keys.providers["gemini"], "LITELLM_MASTER_KEY": keys.master,
        "REDIS_HOST": redis[0], "REDIS_PORT": str(redis[1]),
        "LANGFUSE_HOST": langfuse_url, "LANGFUSE_PUBLIC_KEY": keys.langfuse_public,
        "LANGFUSE_SECRET_KEY": keys.langfuse_secret,
        # the cost map otherwise comes from GitHub at start-up, with retries that add ~10 s offline
        "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False",
        # the langfuse SDK behind LiteLLM's callback tries a batch 3 times over ~3 s, then drops it: a 2 s
        # Langfuse refusal lost 7 of 10 traces (OBS-6); 8 tries ride out an outage of about a minute
        "LANGFUSE_MAX_RETRIES": os.environ.get("LANGFUSE_MAX_RETRIES", "8"),
        "DISABLE_SCHEMA_UPDATE": "true",
    }


def run_config(target: Target, folder: Path) -> Target:
    """The target with the config its gateway runs: as given, or (num_retries set) a copy of the config's
    folder (its hooks beside it) with router_settings.num_retries changed, which the checks then read."""
    config, retries = target.litellm_config, target.num_retries
    if config is None or retries is None:
        return target
    return target.with_litellm_config(config_copy(config, folder, lambda document: document.setdefault(
        "router_settings", {}).update(num_retries=retries)))


def config_copy(config: Path, folder: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the config's folder (its hooks beside it) in `folder`, the config document changed by `edit`."""
    copy = folder / "litellm-config"
    shutil.copytree(config.parent, copy, ignore=shutil.ignore_patterns("__pycache__", "*.lock"))
    document = yaml.safe_load(config.read_text()) or {}
    edit(document)
    (copy / config.name).write_text(yaml.safe_dump(document, sort_keys=False))
    return copy / config.name


def write_team_keys(target: Target, config: Path, folder: Path) -> tuple[list[Team], ProxyBudget | None, Path]:
    """The reference teams with a fresh key each, limits and budget scaled by the target, as a keys file
    (mode 0600) in `folder`; teams.yaml beside the LiteLLM config wins over the reference one."""
    template = config.parent / "teams.yaml"
    if not template.exists():
        template = REFERENCE_CONFIG.parent / "teams.yaml"
    env = {f"{name}": f"sk-team-{secrets.token_hex(12)}" for name in
           ("PROD_CUSTOMER_KEY", "PROD_CEO_KEY", "PROD_BACKGROUND_KEY", "ADMIN_KEY", "SCOPED_KEY", "QA_KEY")}
    scale = target.quota_scale
    teams = [team.model_copy(update={
        "rpm": max(1, round(team.rpm * scale)) if team.rpm else None,
        "tpm": max(1, round(team.tpm * scale)) if team.tpm else None,
        "daily_usd": round(team.daily_usd * scale, 4) if team.daily_usd else None})
        for team in read_teams(template, env)]
    budget = read_budget(template)
    budget = budget.scaled(scale) if budget else None
    document: dict[str, object] = {"keys": [team.entry() for team in teams]}
    if budget:
        document["proxy_budget"] = budget.model_dump(exclude_none=True)
    path = folder / "teams.yaml"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return teams, budget, path


def seed_model_prices(gateway_url: str, master_key: str, langfuse: LangfuseClient) -> list[str]:
    """One Langfuse model definition per gateway deployment, at the gateway's prices per token: what a
    real Langfuse needs (built in or added) to price generations that arrive over OTLP without a cost."""
    try:
        response = httpx.get(f"{gateway_url}/model/info", headers={"Authorization": f"Bearer {master_key}"},
                             timeout=30)
        response.raise_for_status()
        seeded = []
        for item in response.json().get("data", []):
            deployment = str((item.get("litellm_params") or {}).get("model") or "")
            info = item.get("model_info") or {}
            if not deployment or deployment in seeded or info.get("input_cost_per_token") is None:
                continue
            provider, _, bare = deployment.rpartition("/")
            prefix = f"({re.escape(provider)}/)?" if provider else ""
            langfuse.create_model(bare, f"(?i)^{prefix}{re.escape(bare)}$", info.get("input_cost_per_token"),
                                  info.get("output_cost_per_token"))
            seeded.append(deployment)
        return seeded
    finally:
        langfuse.close()


def langfuse_standin(transport: str | None, gateway_url: str, master_key: str, langfuse: LangfuseClient) -> str:
    """The report's line for the Langfuse stand-in; over OTLP it first seeds the model prices (a failure
    to seed is said there, and OBS-2 will show the $0 it causes, rather than stopping the stack)."""
    note = "langfuse: harness stand-in (Langfuse v3 public API)"
    if transport != "otlp":
        langfuse.close()
        return note
    try:
        seeded = seed_model_prices(gateway_url, master_key, langfuse)
    except httpx.HTTPError as exc:
        return f"{note}; OTLP endpoint; model prices NOT seeded ({type(exc).__name__}: {str(exc)[:120]})"
    return f"{note}; OTLP endpoint, {len(seeded)} model prices seeded from the gateway's price table (Langfuse " \
           "prices these models from its own list)"


@dataclass
class Endpoints:
    """Where the started services answer, as the harness (on this host) reaches them."""

    gateway: str
    langfuse: str
    mock: str
    faults: str
    alerts: str
    router: str  # the routing webhook's URL
    telegram: str
    redis: str
    postgres: str | None = None
    direct_openai: str | None = None  # the OpenAI-format provider on the gateway's own path (LD-6)
    standins: list[str] = field(default_factory=list)  # beyond Langfuse, the providers and the Bot API
    langfuse_standin: bool = True  # False: the deployment's own Langfuse (the compose provider's `langfuse` role)


def assemble(target: Target, *, provider: str, config: Path, keys: StackKeys, at: Endpoints, teams: list[Team],
             budget: ProxyBudget | None, versions: dict[str, str], startup_s: dict[str, float], logs: ServiceLogs,
             pids: dict[str, int] | None = None, granted: frozenset[Capability] = frozenset()) -> Stack:
    """The Stack over a started reference stack: the live target (every endpoint and key), the report's
    stand-ins and versions; over OTLP, the Langfuse stand-in is first given the gateway's prices."""
    transport = langfuse_transport(config)
    langfuse_note = [langfuse_standin(transport, at.gateway, keys.master,
                                      LangfuseClient(at.langfuse, keys.langfuse_public, keys.langfuse_secret))
                     ] if at.langfuse_standin else []
    standins = [*langfuse_note, "LLM providers: harness mock (OpenAI, Anthropic, Gemini wire formats)",
                "Telegram: harness Bot API stand-in (getMe, getUpdates, sendMessage)", *at.standins]
    live = target.model_copy(update={
        "provider": provider,
        "gateway": Endpoint(url=at.gateway, master_key=SecretStr(keys.master), health_url=at.gateway),
        "langfuse": LangfuseTarget(url=at.langfuse, public_key=keys.langfuse_public,
                                   secret_key=SecretStr(keys.langfuse_secret), standin=at.langfuse_standin),
        "mock_url": at.mock, "toxiproxy_url": at.faults, "alerts_url": at.alerts,
        "redis_url": SecretStr(at.redis), "postgres_url": SecretStr(at.postgres) if at.postgres else None,
        "teams": teams, "budget": budget, "router_url": at.router, "telegram_url": at.telegram,
        "standins": standins,
    })
    direct = DirectProvider(url=at.direct_openai, key=SecretStr(keys.providers["openai"])) if at.direct_openai \
        else None
    return Stack(target=live, provider=provider, standins=list(standins),
                 versions={**litellm_pin(), **versions, "langfuse_transport": TRANSPORTS.get(str(transport), "none")},
                 startup_s=startup_s, logs=logs, pids=dict(pids or {}), direct_provider=direct,
                 generated_secrets=keys.generated(), granted=OWNED | granted)
