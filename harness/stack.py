"""The Stack: the handle every check uses, whatever provider brought the stack up.

Its `target` is the live target: every endpoint and credential the stack has, held once (secrets stay
`SecretStr`). Beside it, what only a provider that runs the stack can give (service logs, the gateway's
processes, the provider reached directly, secrets it generated), and what the report must say. What
the harness may do with the stack is `capabilities`; checks ask that, never which provider built it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from harness.capabilities import Capability
from harness.control import ProcessControl, ServiceControl
from harness.faults import Proxy, Toxiproxy
from harness.gateway import GatewayClient
from harness.langfuse.client import LangfuseClient
from harness.spend import DEFAULT_CAP_USD, GuardedTransport, SpendLedger
from harness.standins.alerts import AlertSink
from harness.standins.mockllm.client import MockControl
from harness.standins.telegram.client import TelegramControl
from harness.target import Target

__all__ = ["DirectProvider", "ServiceLogs", "Stack"]


@dataclass(frozen=True)
class ServiceLogs:
    """Each service's log: files in `folder` (`<service>.log`), or `docker logs` of the named containers."""

    folder: Path | None = None
    containers: dict[str, str] = field(default_factory=dict)

    def read(self) -> dict[str, str]:
        if self.containers:
            logs = {}
            for name, ident in self.containers.items():
                result = subprocess.run(["docker", "logs", ident], capture_output=True, timeout=30)
                logs[name] = (result.stdout + result.stderr).decode(errors="replace")
            return logs
        if self.folder is None or not self.folder.exists():
            return {}
        return {path.stem: path.read_text(errors="replace") for path in sorted(self.folder.glob("*.log"))}


@dataclass(frozen=True)
class DirectProvider:
    """The gateway's OpenAI-format provider reached without the gateway, on the same path (LD-6)."""

    url: str
    key: SecretStr


@dataclass
class Stack:
    target: Target
    provider: str = "external"  # for the report only: checks ask `capabilities`
    standins: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    startup_s: dict[str, float] = field(default_factory=dict)
    logs: ServiceLogs | None = None
    pids: dict[str, int] = field(default_factory=dict)  # the services' processes, where the harness runs them
    direct_provider: DirectProvider | None = None
    generated_secrets: dict[str, SecretStr] = field(default_factory=dict)  # keys the provider made, by name
    granted: frozenset[Capability] = frozenset()  # what the provider gives beyond the target's fields
    spend: SpendLedger | None = None  # every LLM call the harness sends is booked here first (harness.spend)
    # pause, kill and restart services by role (`gateway`, `observer`, ...), where the harness runs them
    control: ServiceControl | None = None

    def __post_init__(self) -> None:
        if self.control is None and "litellm" in self.pids:
            self.control = ProcessControl({"gateway": self.pids["litellm"]})
        if self.spend is None:
            real = Capability.PROVIDER_CONTROL not in self.capabilities
            cap = self.target.max_spend_usd
            chains = {**self.target.plan.chains, **self.target.fallbacks}
            self.spend = SpendLedger(prices=self.target.plan.list_prices, chains=chains, real_providers=real,
                                     cap_usd=cap if cap is not None else DEFAULT_CAP_USD if real else None)

    @classmethod
    def over(cls, target: Target, **fields: Any) -> Stack:
        """A stack over a target's endpoints, starting nothing (the external provider, tests' doubles)."""
        if target.logs_dir is not None and "logs" not in fields:
            fields["logs"] = ServiceLogs(folder=target.logs_dir)
        return cls(target=target, standins=list(target.standins), **fields)

    # endpoints: each held once, in the live target
    @property
    def gateway_url(self) -> str:
        if self.target.gateway is None:
            raise ValueError("the stack has no gateway; set gateway.url in the target")
        return self.target.gateway.url.rstrip("/")

    @property
    def health_url(self) -> str:
        gateway = self.target.gateway
        return (gateway.health_url or gateway.url).rstrip("/") if gateway else self.gateway_url

    @property
    def master_key(self) -> SecretStr | None:
        return self.target.gateway.master_key if self.target.gateway else None

    @property
    def mock_url(self) -> str | None:
        return self.target.mock_url

    @property
    def toxiproxy_url(self) -> str | None:
        return self.target.toxiproxy_url

    @property
    def log_dir(self) -> Path | None:
        return self.logs.folder if self.logs else None

    @property
    def capabilities(self) -> frozenset[Capability]:
        t = self.target
        present = {Capability.MASTER_KEY: self.master_key is not None, Capability.LANGFUSE: t.langfuse is not None,
                   Capability.PROVIDER_CONTROL: bool(t.mock_url), Capability.FAULT_PROXIES: bool(t.toxiproxy_url),
                   Capability.REDIS: t.redis_url is not None, Capability.POSTGRES: t.postgres_url is not None,
                   Capability.TEAM_KEYS: any(team.key is not None for team in t.teams) or
                   (bool(t.teams) and t.team_keys == "virtual"),
                   Capability.SERVICE_LOGS: self.logs is not None,
                   Capability.PROCESS_CONTROL: self._controls("gateway"),
                   Capability.OBSERVER_CONTROL: self._controls("observer") and t.events is not None,
                   Capability.ROUTER: bool(t.router_url), Capability.BOT_API: bool(t.telegram_url),
                   Capability.ALERT_SINK: bool(t.alerts_url), Capability.BACKUP_STORE: t.backup is not None,
                   Capability.DIRECT_PROVIDER: self.direct_provider is not None,
                   Capability.EVENT_PIPELINE: t.events is not None,
                   Capability.BUDGET_TEST_KEY: any(team.budget_test and team.key is not None and team.daily_usd
                                                   for team in t.teams),
                   Capability.AUDIT_LOG: t.events is not None and t.events.audit_log is not None,
                   Capability.CHANGE_REQUESTS: t.events is not None and t.events.change_requests is not None}
        return frozenset(cap for cap, ok in present.items() if ok) | self.granted

    def _controls(self, role: str) -> bool:
        return self.control is not None and role in self.control.names

    def lacks(self, needs: Iterable[Capability]) -> list[Capability]:
        have = self.capabilities
        return [cap for cap in needs if cap not in have]

    def gateway(self, key: str | None = None, timeout: float = 60.0) -> GatewayClient:
        """A client for the gateway, authenticated with `key` (the master key by default)."""
        token = key if key is not None else (self.master_key.get_secret_value() if self.master_key else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return GatewayClient(base_url=self.gateway_url, headers=headers, timeout=timeout, transport=self.transport())

    def transport(self) -> GuardedTransport:
        """An httpx transport that books each LLM call (the gateway's, or a task to the routing webhook) with
        the spend guard before sending it: for every client the harness points at the stack."""
        assert self.spend is not None
        return GuardedTransport(self.spend, routed_urls=[self.target.router_url or ""])

    def http(self, timeout: float = 30.0) -> httpx.Client:
        """A plain client (no base URL, no key) whose LLM calls go through the spend guard."""
        return httpx.Client(timeout=timeout, transport=self.transport())

    @property
    def faults(self) -> dict[str, Proxy]:
        """The fault proxy in front of each upstream, by name (`openai`, `anthropic`, `gemini`, `redis`)."""
        if not self.toxiproxy_url:
            return {}
        return Toxiproxy(self.toxiproxy_url).proxies()

    def service_logs(self) -> dict[str, str]:
        """Each service's log so far, by name (empty where the stack's logs are not readable)."""
        return self.logs.read() if self.logs else {}

    def telegram(self) -> TelegramControl | None:
        """The Bot API stand-in's control side (a user's messages in, the bot's out), where there is one."""
        return TelegramControl(self.target.telegram_url) if self.target.telegram_url else None

    def mock(self) -> MockControl | None:
        return MockControl(self.mock_url) if self.mock_url else None

    def alerts(self) -> AlertSink | None:
        """The notification sink the stack's alerts post to, where it has one."""
        return AlertSink(self.target.alerts_url) if self.target.alerts_url else None

    def langfuse(self) -> LangfuseClient | None:
        lf = self.target.langfuse
        if lf is None:
            return None
        return LangfuseClient(lf.url, lf.public_key, lf.secret_key.get_secret_value())

    def named_secrets(self) -> dict[str, str]:
        """Every credential this stack knows, by what it is, so scans can say where one leaked."""
        found: dict[str, str] = {}
        if self.master_key is not None:
            found["master key"] = self.master_key.get_secret_value()
        found.update({name: secret.get_secret_value() for name, secret in self.generated_secrets.items()})
        for team in self.target.teams:
            if team.key is not None:
                found[f"team key {team.team}"] = team.key.get_secret_value()
        if self.target.langfuse is not None:
            found["langfuse secret key"] = self.target.langfuse.secret_key.get_secret_value()
        return {name: value for name, value in found.items() if value}

    def secrets(self) -> list[str]:
        """Every credential this stack knows, so reports and scans can mask or look for them."""
        return list(dict.fromkeys(self.named_secrets().values()))

    def target_document(self) -> dict[str, Any]:
        """This stack as an external target file (with its secrets: write it with mode 0600)."""
        t = self.target
        doc: dict[str, Any] = {"name": f"{t.name} (via harness up)", "provider": "external",
                               "gateway": {"url": self.gateway_url, "health_url": self.health_url,
                                           "master_key": self.master_key.get_secret_value()
                                           if self.master_key else None},
                               "mock_url": t.mock_url, "toxiproxy_url": t.toxiproxy_url, "alerts_url": t.alerts_url,
                               "router_url": t.router_url, "telegram_url": t.telegram_url,
                               "router_timeout_s": t.router_timeout_s, "standins": self.standins,
                               # the keys were made at this scale: the plan's limits are judged at it too
                               "quota_scale": t.quota_scale, "cache_isolation": t.cache_isolation,
                               "models": [m.model_dump(exclude_none=True) for m in t.models],
                               "fallbacks": t.fallbacks}
        if t.langfuse is not None:
            doc["langfuse"] = {"url": t.langfuse.url, "public_key": t.langfuse.public_key,
                               "secret_key": t.langfuse.secret_key.get_secret_value(), "standin": t.langfuse.standin}
        if t.teams:
            doc["teams"] = [team.entry() for team in t.teams]
        if t.budget:
            doc["budget"] = t.budget.model_dump(exclude_none=True)
        doc["alerting"] = t.alerting.model_dump(exclude_defaults=True)
        if t.agents is not None:
            doc["agents"] = str(t.agents)
        for name in ("redis_url", "postgres_url"):
            value = getattr(t, name)
            if value is not None:
                doc[name] = value.get_secret_value()
        return doc

    def write_state(self, path: Path) -> None:
        state = {"pids": self.pids, "log_dir": str(self.log_dir), "target": self.target_document()}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)
