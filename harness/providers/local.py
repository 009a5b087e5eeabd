"""The embedded provider: the whole stack as real processes on loopback, no Docker.

Redis, Postgres, the mock providers, the Langfuse stand-in and the real LiteLLM proxy start on
ephemeral ports in a temp dir of their own; the reaper ends them even if the harness is killed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness._proc import Service, Supervisor, free_port
from harness.capabilities import Capability
from harness.faults import Toxiproxy
from harness.providers.base import Provider
from harness.providers.n8n import start_n8n, webhook_answers
from harness.providers.processes import binary, bot_polling, http_ok, redis_ping, start_postgres, version_of
from harness.providers.wiring import (
    Endpoints,
    StackKeys,
    assemble,
    find_litellm,
    litellm_env,
    run_config,
    write_team_keys,
)
from harness.stack import ServiceLogs, Stack
from harness.target import REPO, Target

__all__ = ["LocalProvider"]

# only a stack of local processes can be paused by pid and reach servers the harness starts on loopback
_LOCAL = frozenset({Capability.HOST_NETWORK})


class LocalProvider(Provider):
    """Starts the embedded stack for a Target; `start()` returns the Stack, `stop()` ends it all."""

    def __init__(self, target: Target, run_dir: Path, *, postgres: bool = True, startup_deadline_s: float = 120.0,
                 master_key: str | None = None, gateway_workers: int = 1) -> None:
        self.target = target
        self.config = target.litellm_config
        if self.config is None:
            raise ValueError("the local provider needs target.litellm_config")
        self.run_dir = run_dir
        self.postgres = postgres
        self.deadline = startup_deadline_s
        self.log_dir = run_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="harness-stack-"))
        # a target's num_retries runs a copy of its config with that setting; the checks read the copy
        self.target = run_config(target, self.tmp)
        self.config = self.target.litellm_config or self.config
        self.supervisor: Supervisor | None = None
        self._faults_port = 0
        self._master_key = master_key
        self.gateway_workers = gateway_workers

    def start(self) -> Stack:
        litellm = find_litellm()
        redis_server = binary("redis-server", "redis-server")
        postgres_bins = (binary("initdb", "postgresql"), binary("postgres", "postgresql")) if self.postgres \
            else None
        started = time.monotonic()
        self.supervisor = sup = Supervisor(self.log_dir)
        sup.guard_dir(self.tmp)
        try:
            return self._start(sup, litellm, redis_server, postgres_bins, started)
        except BaseException:
            self.stop()
            raise

    def _start(self, sup: Supervisor, litellm: Path, redis_server: str, postgres_bins: tuple[str, str] | None,
               started: float) -> Stack:
        py = sys.executable
        keys = StackKeys.new(self._master_key)
        ports = {"mock": self.tmp / "mock.port", "langfuse": self.tmp / "langfuse.port",
                 "faults": self.tmp / "faults.port", "alerts": self.tmp / "alerts.port",
                 "telegram": self.tmp / "telegram.port"}

        def standin(name: str, env: dict[str, str] | None = None) -> Service:
            return sup.start(name, [py, "-m", f"harness.standins.{name}", "--port-file", str(ports[name])],
                             env=env, cwd=REPO)

        mock = sup.start("mockllm", [py, "-m", "harness.standins.mockllm", "--port-file", str(ports["mock"])],
                         cwd=REPO)
        langfuse = standin("langfuse", {"LANGFUSE_PUBLIC_KEY": keys.langfuse_public,
                                        "LANGFUSE_SECRET_KEY": keys.langfuse_secret})
        faults = self._start_faults(sup, ports["faults"])
        alerts = standin("alerts")
        telegram = standin("telegram", {"TELEGRAM_BOT_TOKEN": keys.telegram_token})
        redis_port = free_port()
        versions: dict[str, str] = {}
        redis = sup.start("redis", [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", str(self.tmp)])
        with ThreadPoolExecutor(1) as pool:
            pg_future = pool.submit(start_postgres, sup, postgres_bins, self.tmp) if postgres_bins else None
            for service, name in ((mock, "mock"), (langfuse, "langfuse"), (alerts, "alerts"),
                                  (telegram, "telegram")):
                sup.ready(service, ports[name].exists, 15)
            sup.ready(redis, lambda: redis_ping(redis_port), 15)
            url = {name: f"http://127.0.0.1:{ports[name].read_text()}" for name in ("telegram", "alerts", "langfuse")}
            faults_url = self._faults_ready(sup, faults, ports["faults"])
            mock_port = int(ports["mock"].read_text())
            # every upstream of the gateway goes through its own fault proxy, so faults hit the real path
            # (Langfuse too: the gateway's traces go through `langfuse`, the harness reads them directly);
            # so do the router's (the gateway) and the bot's (the router)
            gateway_port, router_port = free_port(), free_port()
            langfuse_port = int(ports["langfuse"].read_text())
            proxies = {p.name: p for p in Toxiproxy(faults_url).populate(
                [{"name": name, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{port}"}
                 for name, port in (("openai", mock_port), ("anthropic", mock_port), ("gemini", mock_port),
                                    ("redis", redis_port), ("gateway", gateway_port), ("router", router_port),
                                    ("langfuse", langfuse_port))])}
            teams, budget, teams_file = write_team_keys(self.target, self.config, self.tmp)
            env = litellm_env(keys, provider_hosts={name: proxies[name].address for name in
                                                    ("openai", "anthropic", "gemini")},
                              redis=(proxies["redis"].host, proxies["redis"].port),
                              langfuse_url=f"http://{proxies['langfuse'].address}",
                              alerts_url=url["alerts"], teams_file=str(teams_file), workers=self.gateway_workers,
                              scratch=self.tmp)
            gateway = sup.start("litellm", [str(litellm), "--config", str(self.config), "--host", "127.0.0.1",
                                            "--port", str(gateway_port)], env=env, cwd=self.config.parent)
            gateway_url = f"http://127.0.0.1:{gateway_port}"
            router_url = f"http://127.0.0.1:{router_port}/webhook/litellm-route"
            if self.target.router == "n8n":
                router, ran = start_n8n(
                    sup, self.tmp / "n8n", port=router_port, gateway_url=f"http://{proxies['gateway'].address}",
                    master_key=keys.master, timeout_s=self.target.router_timeout_s, workflow=self.target.n8n_workflow)
                versions.update(ran)
                # n8n's /healthz answers before its webhook is registered (~6 s after start here)
                router_ready, router_deadline = (lambda: webhook_answers(router_url)), 90
            else:
                router = sup.start("router", [py, str(REPO / "stack/router/router.py"), "--port", str(router_port),
                                              "--gateway", f"http://{proxies['gateway'].address}",
                                              "--timeout", str(self.target.router_timeout_s)],
                                   env={"LITELLM_MASTER_KEY": keys.master}, cwd=REPO)
                router_ready, router_deadline = (lambda: http_ok(f"http://127.0.0.1:{router_port}/health")), 30
            bot = sup.start("bot", [py, str(REPO / "stack/bot/bot.py"), "--api", url["telegram"], "--router",
                                    f"http://{proxies['router'].address}/webhook/litellm-route",
                                    "--timeout", str(self.target.router_timeout_s + 5)],
                            env={"TELEGRAM_BOT_TOKEN": keys.telegram_token}, cwd=REPO)
            sup.ready(router, router_ready, router_deadline)
            sup.ready(bot, lambda: bot_polling(url["telegram"]), 30)
            sup.ready(gateway, lambda: http_ok(f"{gateway_url}/health/readiness"), self.deadline)
            postgres_url = pg_future.result() if pg_future else None
        versions["redis"] = version_of([redis_server, "--version"])
        if postgres_bins:
            versions["postgres"] = version_of([postgres_bins[1], "--version"])
        startup = {name: round(s.ready_s or 0.0, 3) for name, s in sup.services.items()}
        startup["total"] = round(time.monotonic() - started, 3)
        at = Endpoints(gateway=gateway_url, langfuse=url["langfuse"], mock=f"http://127.0.0.1:{mock_port}",
                       faults=faults_url, alerts=url["alerts"],
                       router=router_url, telegram=url["telegram"],
                       redis=f"redis://127.0.0.1:{redis_port}/0", postgres=postgres_url,
                       direct_openai=f"http://{proxies['openai'].address}",
                       standins=[] if self._real_toxiproxy else
                       ["fault proxy: harness Toxiproxy-compatible server (2.12 API)"])
        return assemble(self.target, provider="local", config=self.config, keys=keys, at=at, teams=teams,
                        budget=budget, versions=versions, startup_s=startup, logs=ServiceLogs(folder=self.log_dir),
                        pids={n: s.pid for n, s in sup.services.items()}, granted=_LOCAL)

    @property
    def _real_toxiproxy(self) -> str | None:
        return shutil.which("toxiproxy-server")

    def _start_faults(self, sup: Supervisor, port_file: Path) -> Service:
        """The real toxiproxy-server when installed, else the harness's compatible one."""
        real = self._real_toxiproxy
        if real:
            self._faults_port = free_port()
            return sup.start("toxiproxy", [real, "-host", "127.0.0.1", "-port", str(self._faults_port)])
        return sup.start("toxiproxy", [sys.executable, "-m", "harness.standins.toxiproxy", "--port", "0",
                                       "--port-file", str(port_file)], cwd=REPO)

    def _faults_ready(self, sup: Supervisor, service: Service, port_file: Path) -> str:
        if self._real_toxiproxy:
            url = f"http://127.0.0.1:{self._faults_port}"
            sup.ready(service, lambda: http_ok(f"{url}/version"), 15)
            return url
        sup.ready(service, port_file.exists, 15)
        return f"http://127.0.0.1:{port_file.read_text()}"

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.close()
            self.supervisor = None
        shutil.rmtree(self.tmp, ignore_errors=True)
