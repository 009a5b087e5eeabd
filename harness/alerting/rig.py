"""`AlertingRig(stack, folder).start()`: exporters, Prometheus and Alertmanager, real Debian binaries.

Each runs under the run's Supervisor (its own process group, reaped if the harness dies), on loopback
ports of its own, with its data under `folder`; `close()` stops them all.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness._proc import Supervisor, free_port
from harness.alerting.config import AlertingConfig, render
from harness.stack import Stack

__all__ = ["BINARIES", "AlertingRig", "MissingAlerting"]

# Debian's names first, then upstream's: the same programs either way
BINARIES = {"prometheus": ("prometheus",), "alertmanager": ("prometheus-alertmanager", "alertmanager"),
            "node-exporter": ("prometheus-node-exporter", "node_exporter"),
            "redis-exporter": ("prometheus-redis-exporter", "redis_exporter")}
_PACKAGES = "prometheus prometheus-alertmanager prometheus-node-exporter prometheus-redis-exporter"


class MissingAlerting(RuntimeError):
    """An alerting binary is not installed; the message says which and how to install it."""


def binaries() -> dict[str, str]:
    found: dict[str, str] = {}
    for role, names in BINARIES.items():
        path = next((p for p in map(shutil.which, names) if p), None)
        if path is None:
            raise MissingAlerting(f"{names[0]} not found: run `sudo apt-get install -y {_PACKAGES}` "
                                  f"(or `make deps-alerting`)")
        found[role] = path
    return found


class AlertingRig:
    """The alerting stack for one running stack. `rewrite` edits a rendered file by name before the start
    (the negative controls: a rule with a wrong expression, a receiver that never sends resolves)."""

    def __init__(self, stack: Stack, folder: Path, rewrite: Mapping[str, Callable[[str], str]] | None = None) -> None:
        if stack.master_key is None or "redis" not in stack.faults or stack.target.alerts_url is None:
            raise MissingAlerting("the alerting rig needs the stack's master key, its Redis fault proxy and its "
                                  "notification sink (the embedded stack has all three)")
        self.stack, self.folder, self._rewrite = stack, folder.resolve(), dict(rewrite or {})
        self.folder.mkdir(parents=True, exist_ok=True)
        self.supervisor = Supervisor(self.folder)
        self.prometheus_url = self.alertmanager_url = ""
        self.config: dict[str, str] = {}
        self._http = httpx.Client(timeout=5.0)

    def start(self, deadline_s: float = 60.0) -> AlertingRig:
        bins = binaries()
        ports = {name: free_port() for name in ("prometheus", "alertmanager", "node", "redis")}
        credentials = self.folder / "gateway.credentials"
        credentials.touch(mode=0o600)
        credentials.write_text(self.stack.master_key.get_secret_value() if self.stack.master_key else "")
        where = AlertingConfig(gateway=urlsplit(self.stack.gateway_url).netloc,
                               node_exporter=f"127.0.0.1:{ports['node']}",
                               redis_exporter=f"127.0.0.1:{ports['redis']}",
                               alertmanager=f"127.0.0.1:{ports['alertmanager']}",
                               sink=str(self.stack.target.alerts_url).rstrip("/"), credentials_file=credentials)
        self.config = render(self.stack.target, where)
        for name, edit in self._rewrite.items():
            self.config[name] = edit(self.config[name])
        for name, text in self.config.items():
            (self.folder / name).write_text(text)
        sup = self.supervisor
        started = [
            sup.start("node-exporter", [bins["node-exporter"], f"--web.listen-address=127.0.0.1:{ports['node']}",
                                        "--collector.disable-defaults", "--collector.meminfo",
                                        "--collector.filesystem", "--collector.loadavg"]),
            sup.start("redis-exporter", [bins["redis-exporter"], "-redis.addr",
                                         f"redis://{self.stack.faults['redis'].address}",
                                         "-web.listen-address", f"127.0.0.1:{ports['redis']}"]),
            sup.start("alertmanager", [bins["alertmanager"], f"--config.file={self.folder / 'alertmanager.yml'}",
                                       f"--storage.path={self.folder / 'alertmanager-data'}",
                                       f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                                       # debug: its log shows each group's flushes, to tell a late notification's
                                       # cause (Prometheus firing late, or Alertmanager holding the group)
                                       "--cluster.listen-address=", "--log.level=debug"]),
            sup.start("prometheus", [bins["prometheus"], f"--config.file={self.folder / 'prometheus.yml'}",
                                     f"--storage.tsdb.path={self.folder / 'prometheus-data'}",
                                     f"--web.listen-address=127.0.0.1:{ports['prometheus']}"]),
        ]
        self.prometheus_url = f"http://127.0.0.1:{ports['prometheus']}"
        self.alertmanager_url = f"http://127.0.0.1:{ports['alertmanager']}"
        urls = {"node-exporter": f"http://127.0.0.1:{ports['node']}/metrics",
                "redis-exporter": f"http://127.0.0.1:{ports['redis']}/metrics",
                "alertmanager": f"{self.alertmanager_url}/-/ready", "prometheus": f"{self.prometheus_url}/-/ready"}
        for service in started:
            sup.ready(service, lambda url=urls[service.name]: self._ok(url), deadline_s)
        return self

    def _ok(self, url: str) -> bool:
        try:
            return self._http.get(url).status_code == 200
        except httpx.HTTPError:
            return False

    # what Prometheus sees

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = self._http.get(f"{self.prometheus_url}/api/v1/query", params={"query": expr}).json()
        if body.get("status") != "success":
            raise RuntimeError(f"query {expr!r}: {body.get('error')}")
        return list(body["data"]["result"])

    def targets_up(self) -> dict[str, bool]:
        active = self._http.get(f"{self.prometheus_url}/api/v1/targets").json()["data"]["activeTargets"]
        return {t["labels"]["job"]: t["health"] == "up" for t in active}

    def _alerts(self) -> list[dict[str, Any]]:
        return list(self._http.get(f"{self.prometheus_url}/api/v1/alerts").json()["data"]["alerts"])

    def active_since(self, alert: str) -> list[float]:
        """When each active series of `alert` became active (Prometheus' activeAt), as epoch seconds."""
        return sorted(datetime.fromisoformat(a["activeAt"].replace("Z", "+00:00")).timestamp()
                      for a in self._alerts() if a["labels"].get("alertname") == alert and a.get("activeAt"))

    def firing(self) -> set[str]:
        return {a["labels"]["alertname"] for a in self._alerts() if a["state"] == "firing"}

    def rules(self) -> dict[str, str]:
        """Alert rule name -> health ("ok", "err", "unknown") as Prometheus last evaluated it."""
        groups = self._http.get(f"{self.prometheus_url}/api/v1/rules").json()["data"]["groups"]
        return {r["name"]: r["health"] for g in groups for r in g["rules"]}

    def settled(self, timeout_s: float = 30.0) -> bool:
        """Every target scraped up and every rule evaluated once."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                up, rules = self.targets_up(), self.rules()
                if up and all(up.values()) and rules and "unknown" not in rules.values():
                    return True
            except (httpx.HTTPError, KeyError):
                pass
            time.sleep(0.2)
        return False

    def close(self) -> None:
        self._http.close()
        self.supervisor.close()

    def __enter__(self) -> AlertingRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
