"""The Stack: the handle every check uses, whatever provider brought the stack up.

It carries endpoints and credentials (secrets stay `SecretStr`), the mock providers' control
where the stack has them, and what the report must say: provider, stand-ins, versions.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from harness.alerts import AlertSink
from harness.faults import Proxy, Toxiproxy
from harness.langfuse.client import LangfuseClient
from harness.mockllm.client import MockControl
from harness.target import Target
from harness.telegram.client import TelegramControl

__all__ = ["Stack"]


@dataclass
class Stack:
    target: Target
    provider: str
    gateway_url: str
    master_key: SecretStr | None
    health_url: str | None = None
    mock_url: str | None = None
    toxiproxy_url: str | None = None
    standins: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    log_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def gateway(self, key: str | None = None, timeout: float = 60.0) -> httpx.Client:
        """An HTTP client for the gateway, authenticated with `key` (the master key by default)."""
        token = key if key is not None else (self.master_key.get_secret_value() if self.master_key else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.gateway_url, headers=headers, timeout=timeout)

    @property
    def faults(self) -> dict[str, Proxy]:
        """The fault proxy in front of each upstream, by name (`openai`, `anthropic`, `gemini`, `redis`)."""
        if not self.toxiproxy_url:
            return {}
        return Toxiproxy(self.toxiproxy_url).proxies()

    def service_logs(self) -> dict[str, str]:
        """Each service's log so far, by name: the embedded stack's files, or `docker logs` of its containers."""
        containers: dict[str, str] = self.extra.get("containers") or {}
        if containers:
            logs = {}
            for name, ident in containers.items():
                result = subprocess.run(["docker", "logs", ident], capture_output=True, timeout=30)
                logs[name] = (result.stdout + result.stderr).decode(errors="replace")
            return logs
        if self.log_dir is None:
            return {}
        return {path.stem: path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log"))}

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

    def secrets(self) -> list[str]:
        """Every credential this stack knows, so reports and scans can mask or look for them."""
        found = [self.master_key.get_secret_value() if self.master_key else "",
                 *self.extra.get("provider_keys", []), self.extra.get("langfuse_secret", ""),
                 self.extra.get("telegram_token", "")]
        if self.target.langfuse is not None:
            found.append(self.target.langfuse.secret_key.get_secret_value())
        found += [team.key.get_secret_value() for team in self.target.teams if team.key is not None]
        return [s for s in dict.fromkeys(found) if s]

    def target_document(self) -> dict[str, Any]:
        """This stack as an external target file (with its secrets: write it with mode 0600)."""
        doc: dict[str, Any] = {"name": f"{self.target.name} (via harness up)", "provider": "external",
                               "gateway": {"url": self.gateway_url, "health_url": self.health_url,
                                           "master_key": self.master_key.get_secret_value()
                                           if self.master_key else None},
                               "mock_url": self.mock_url, "toxiproxy_url": self.toxiproxy_url,
                               "alerts_url": self.target.alerts_url,
                               "router_url": self.target.router_url, "telegram_url": self.target.telegram_url,
                               "router_timeout_s": self.target.router_timeout_s,
                               "standins": self.standins,
                               "models": [m.model_dump(exclude_none=True) for m in self.target.models],
                               "fallbacks": self.target.fallbacks}
        if self.target.langfuse is not None:
            lf = self.target.langfuse
            doc["langfuse"] = {"url": lf.url, "public_key": lf.public_key,
                               "secret_key": lf.secret_key.get_secret_value(), "standin": lf.standin}
        if self.target.teams:
            doc["teams"] = [team.entry() for team in self.target.teams]
        if self.target.budget:
            doc["budget"] = self.target.budget.model_dump(exclude_none=True)
        doc["alerting"] = self.target.alerting.model_dump(exclude_defaults=True)
        for name in ("redis_url", "postgres_url"):
            value = getattr(self.target, name)
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
