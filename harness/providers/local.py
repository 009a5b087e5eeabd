"""The embedded provider: the whole stack as real processes on loopback, no Docker.

Redis, Postgres, the mock providers, the Langfuse stand-in and the real LiteLLM proxy start on
ephemeral ports in a temp dir of their own; the reaper ends them even if the harness is killed.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml
from pydantic import SecretStr

from harness._proc import Service, StartupError, Supervisor, free_port
from harness.faults import Toxiproxy
from harness.langfuse import LangfuseClient
from harness.stack import Stack
from harness.target import (
    REFERENCE_CONFIG,
    REPO,
    Endpoint,
    LangfuseTarget,
    ProxyBudget,
    Target,
    Team,
    langfuse_transport,
    read_budget,
    read_teams,
)
from harness.telegram import TelegramControl, new_token

__all__ = ["TRANSPORTS", "LocalProvider", "MissingDependency", "find_litellm", "langfuse_standin", "litellm_pin",
           "seed_model_prices", "start_postgres", "write_team_keys"]

LOCK = REPO / "stack" / "litellm" / "requirements.lock"


class MissingDependency(RuntimeError):
    """A binary the embedded stack needs is not installed; the message says how to install it."""


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
    """Installed LiteLLM version next to the version and wheel hashes the lock file pins."""
    info: dict[str, str] = {}
    text = LOCK.read_text() if LOCK.exists() else ""
    match = re.search(r"^litellm==(\S+) \\\n((?:\s+--hash=sha256:\w+(?: \\)?\n)+)", text, re.M)
    if match:
        info["litellm_pinned"] = match.group(1)
        info["litellm_lock_sha256"] = " ".join(h[:16] for h in re.findall(r"sha256:(\w+)", match.group(2)))
    try:
        site = find_litellm().parent.parent / "lib"
        dists = glob.glob(str(site / "python*" / "site-packages" / "litellm-*.dist-info"))
        if dists:
            info["litellm"] = Path(dists[0]).name.removeprefix("litellm-").removesuffix(".dist-info")
            # a fingerprint of the files actually installed, to compare two runs' gateways
            record = (Path(dists[0]) / "RECORD").read_bytes()
            info["litellm_record_sha256"] = hashlib.sha256(record).hexdigest()[:16]
    except MissingDependency:
        info["litellm"] = "not installed"
    return info


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if not found:
        raise MissingDependency(f"{name} not found: run `sudo apt-get install -y {package}` (or `make deps`)")
    return found


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _bot_polling(telegram_url: str) -> bool:
    try:
        with TelegramControl(telegram_url) as telegram:
            return telegram.polling()
    except httpx.HTTPError:
        return False


TRANSPORTS = {"otlp": "OTLP (langfuse_otel callback)", "ingestion": "ingestion API (langfuse callback)"}


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


class LocalProvider:
    """Starts the embedded stack for a Target; `start()` returns the Stack, `stop()` ends it all."""

    def __init__(self, target: Target, run_dir: Path, *, postgres: bool = True, startup_deadline_s: float = 120.0,
                 master_key: str | None = None) -> None:
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
        self.supervisor: Supervisor | None = None
        self._faults_port = 0
        self._master_key = master_key

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Stack:
        litellm = find_litellm()
        redis_server = _binary("redis-server", "redis-server")
        postgres_bins = (_binary("initdb", "postgresql"), _binary("postgres", "postgresql")) if self.postgres \
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
        keys = {name: f"sk-{name}-{secrets.token_hex(12)}" for name in ("master", "openai", "anthropic", "gemini")}
        if self._master_key:
            keys["master"] = self._master_key
        lf_public, lf_secret = f"pk-lf-{secrets.token_hex(8)}", f"sk-lf-{secrets.token_hex(16)}"
        ports = {"mock": self.tmp / "mock.port", "langfuse": self.tmp / "langfuse.port",
                 "faults": self.tmp / "faults.port", "alerts": self.tmp / "alerts.port",
                 "telegram": self.tmp / "telegram.port"}
        telegram_token = new_token()
        mock = sup.start("mockllm", [py, "-m", "harness.mockllm", "--port-file", str(ports["mock"])], cwd=REPO)
        langfuse = sup.start("langfuse", [py, "-m", "harness.langfuse", "--port-file", str(ports["langfuse"])],
                             env={"LANGFUSE_PUBLIC_KEY": lf_public, "LANGFUSE_SECRET_KEY": lf_secret}, cwd=REPO)
        faults = self._start_faults(sup, ports["faults"])
        alerts = sup.start("alerts", [py, "-m", "harness.alerts", "--port-file", str(ports["alerts"])], cwd=REPO)
        telegram = sup.start("telegram", [py, "-m", "harness.telegram", "--port-file", str(ports["telegram"])],
                             env={"TELEGRAM_BOT_TOKEN": telegram_token}, cwd=REPO)
        redis_port = free_port()
        redis = sup.start("redis", [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", str(self.tmp)])
        with ThreadPoolExecutor(1) as pool:
            pg_future = pool.submit(start_postgres, sup, postgres_bins, self.tmp) if postgres_bins else None
            sup.ready(mock, ports["mock"].exists, 15)
            sup.ready(langfuse, ports["langfuse"].exists, 15)
            sup.ready(redis, lambda: _redis_ping(redis_port), 15)
            sup.ready(alerts, ports["alerts"].exists, 15)
            sup.ready(telegram, ports["telegram"].exists, 15)
            telegram_url = f"http://127.0.0.1:{ports['telegram'].read_text()}"
            alerts_url = f"http://127.0.0.1:{ports['alerts'].read_text()}"
            faults_url = self._faults_ready(sup, faults, ports["faults"])
            mock_port = int(ports["mock"].read_text())
            mock_url = f"http://127.0.0.1:{mock_port}"
            langfuse_url = f"http://127.0.0.1:{ports['langfuse'].read_text()}"
            # every upstream of the gateway goes through its own fault proxy, so faults hit the real path;
            # so do the router's (the gateway) and the bot's (the router)
            toxiproxy = Toxiproxy(faults_url)
            gateway_port, router_port = free_port(), free_port()
            proxies = {p.name: p for p in toxiproxy.populate(
                [{"name": name, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{port}"}
                 for name, port in (("openai", mock_port), ("anthropic", mock_port), ("gemini", mock_port),
                                    ("redis", redis_port), ("gateway", gateway_port), ("router", router_port))])}
            teams, budget, teams_file = write_team_keys(self.target, self.config, self.tmp)
            env = {
                "HARNESS_TEAM_KEYS": str(teams_file),
                "HARNESS_ALERT_WEBHOOK": f"{alerts_url}/hooks/budget",
                "OPENAI_API_BASE": f"http://{proxies['openai'].address}/v1",
                "ANTHROPIC_API_BASE": f"http://{proxies['anthropic'].address}",
                "GEMINI_API_BASE": f"http://{proxies['gemini'].address}/v1beta",
                "OPENAI_API_KEY": keys["openai"], "ANTHROPIC_API_KEY": keys["anthropic"],
                "GEMINI_API_KEY": keys["gemini"], "LITELLM_MASTER_KEY": keys["master"],
                "REDIS_HOST": proxies["redis"].host, "REDIS_PORT": str(proxies["redis"].port),
                "LANGFUSE_HOST": langfuse_url, "LANGFUSE_PUBLIC_KEY": lf_public, "LANGFUSE_SECRET_KEY": lf_secret,
                # the cost map otherwise comes from GitHub at start-up, with retries that add ~10 s offline
                "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False",
                "DISABLE_SCHEMA_UPDATE": "true",
            }
            gateway = sup.start("litellm", [str(litellm), "--config", str(self.config), "--host", "127.0.0.1",
                                            "--port", str(gateway_port)], env=env, cwd=self.config.parent)
            gateway_url = f"http://127.0.0.1:{gateway_port}"
            router_env = {"LITELLM_MASTER_KEY": keys["master"]}
            router = sup.start("router", [py, str(REPO / "stack/router/router.py"), "--port", str(router_port),
                                          "--gateway", f"http://{proxies['gateway'].address}",
                                          "--timeout", str(self.target.router_timeout_s)], env=router_env, cwd=REPO)
            bot = sup.start("bot", [py, str(REPO / "stack/bot/bot.py"), "--api", telegram_url, "--router",
                                    f"http://{proxies['router'].address}/webhook/litellm-route",
                                    "--timeout", str(self.target.router_timeout_s + 5)],
                            env={"TELEGRAM_BOT_TOKEN": telegram_token}, cwd=REPO)
            sup.ready(router, lambda: _http_ok(f"http://127.0.0.1:{router_port}/health"), 30)
            sup.ready(bot, lambda: _bot_polling(telegram_url), 30)
            sup.ready(gateway, lambda: _http_ok(f"{gateway_url}/health/readiness"), self.deadline)
            postgres_url = pg_future.result() if pg_future else None
        transport = langfuse_transport(self.config)
        langfuse_note = langfuse_standin(transport, gateway_url, keys["master"],
                                         LangfuseClient(langfuse_url, lf_public, lf_secret))
        target = self.target.model_copy(update={
            "gateway": Endpoint(url=gateway_url, master_key=SecretStr(keys["master"]), health_url=gateway_url),
            "langfuse": LangfuseTarget(url=langfuse_url, public_key=lf_public, secret_key=SecretStr(lf_secret),
                                       standin=True),
            "mock_url": mock_url,
            "toxiproxy_url": faults_url,
            "redis_url": SecretStr(f"redis://127.0.0.1:{redis_port}/0"),
            "postgres_url": SecretStr(postgres_url) if postgres_url else None,
            "teams": teams,
            "budget": budget,
            "alerts_url": alerts_url,
            "router_url": f"http://127.0.0.1:{router_port}/webhook/litellm-route",
            "telegram_url": telegram_url,
            "standins": [langfuse_note,
                         "LLM providers: harness mock (OpenAI, Anthropic, Gemini wire formats)",
                         "Telegram: harness Bot API stand-in (getMe, getUpdates, sendMessage)"]
            + ([] if self._real_toxiproxy else ["fault proxy: harness Toxiproxy-compatible server (2.12 API)"]),
        })
        versions = {**litellm_pin(), "redis": _version([redis_server, "--version"]),
                    "langfuse_transport": TRANSPORTS.get(str(transport), "none")}
        if postgres_bins:
            versions["postgres"] = _version([postgres_bins[1], "--version"])
        startup = {name: round(s.ready_s or 0.0, 3) for name, s in sup.services.items()}
        startup["total"] = round(time.monotonic() - started, 3)
        return Stack(target=target, provider="local", gateway_url=gateway_url, master_key=SecretStr(keys["master"]),
                     health_url=gateway_url, mock_url=mock_url, toxiproxy_url=faults_url, standins=target.standins,
                     versions=versions,
                     pids={n: s.pid for n, s in sup.services.items()}, log_dir=self.log_dir,
                     extra={"startup_s": startup, "provider_keys": [keys["openai"], keys["anthropic"], keys["gemini"]],
                            "langfuse_secret": lf_secret, "telegram_token": telegram_token})

    @property
    def _real_toxiproxy(self) -> str | None:
        return shutil.which("toxiproxy-server")

    def _start_faults(self, sup: Supervisor, port_file: Path) -> Service:
        """The real toxiproxy-server when installed, else the harness's compatible one."""
        real = self._real_toxiproxy
        if real:
            self._faults_port = free_port()
            return sup.start("toxiproxy", [real, "-host", "127.0.0.1", "-port", str(self._faults_port)])
        return sup.start("toxiproxy", [sys.executable, "-m", "harness.faults", "--port", "0",
                                       "--port-file", str(port_file)], cwd=REPO)

    def _faults_ready(self, sup: Supervisor, service: Service, port_file: Path) -> str:
        if self._real_toxiproxy:
            url = f"http://127.0.0.1:{self._faults_port}"
            sup.ready(service, lambda: _http_ok(f"{url}/version"), 15)
            return url
        sup.ready(service, port_file.exists, 15)
        return f"http://127.0.0.1:{port_file.read_text()}"

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.close()
            self.supervisor = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_postgres(sup: Supervisor, bins: tuple[str, str], folder: Path, name: str = "postgres") -> str:
    """A fresh Postgres cluster in `folder/pg` (trust auth, loopback, no fsync) run by `sup`; its URL.
    As root it runs as the Debian `postgres` user, since Postgres refuses root."""
    initdb, postgres = bins
    data = folder / "pg"
    user = None
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise MissingDependency("user 'postgres' missing: run `apt-get install -y postgresql`") from None
        user = "postgres"
        os.chmod(folder, 0o755)
        data.mkdir()
        os.chown(data, pw.pw_uid, pw.pw_gid)
    init = subprocess.run([initdb, "-D", str(data), "-U", "harness", "-A", "trust", "--no-sync", "-E", "UTF8"],
                          capture_output=True, text=True, user=user)
    if init.returncode:
        raise StartupError(f"initdb failed: {init.stderr.strip().splitlines()[-1:]}")
    port = free_port()
    service = sup.start(name, [postgres, "-D", str(data), "-p", str(port), "-k", str(data),
                               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"], user=user,
                        # SIGINT is Postgres' fast shutdown; its backends run in sessions of their own
                        stop_signal=signal.SIGINT)
    isready = _binary("pg_isready", "postgresql")
    sup.ready(service, lambda: subprocess.run([isready, "-q", "-h", "127.0.0.1", "-p", str(port)]).returncode == 0,
              30)
    return f"postgresql://harness@127.0.0.1:{port}/postgres"


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


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return "unknown"
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
    return match.group(1) if match else out.strip()
