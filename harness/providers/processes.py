"""Real servers as local processes: the Debian binaries they need, and a fresh Postgres cluster.

Used by the embedded provider and by rigs that restore into servers of their own (the backup checks).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import httpx

from harness._proc import StartupError, Supervisor, free_port
from harness.standins.telegram import TelegramControl

__all__ = ["MissingDependency", "binary", "bot_polling", "http_ok", "redis_ping", "start_postgres", "version_of"]


class MissingDependency(RuntimeError):
    """A binary the embedded stack needs is not installed; the message says how to install it."""


def binary(name: str, package: str) -> str:
    """The path of `name` (PATH, then Debian's PostgreSQL bin folders), or how to install `package`."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if not found:
        raise MissingDependency(f"{name} not found: run `sudo apt-get install -y {package}` (or `make deps`)")
    return found


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
    isready = binary("pg_isready", "postgresql")
    sup.ready(service, lambda: subprocess.run([isready, "-q", "-h", "127.0.0.1", "-p", str(port)]).returncode == 0,
              30)
    return f"postgresql://harness@127.0.0.1:{port}/postgres"


def version_of(argv: list[str]) -> str:
    """The first dotted version number a binary prints for `argv` (e.g. `redis-server --version`)."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return "unknown"
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
    return match.group(1) if match else out.strip()


# readiness probes: each answers "ready yet?" once, for Supervisor.ready to poll with its deadline
def redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def reported_litellm_version(health_url: str) -> str:
    """The LiteLLM version a gateway names (its header, its readiness body, else its OpenAPI document's
    version): for a gateway the harness did not install, the only account of what runs; `unreachable`
    when it does not answer."""
    try:
        response = httpx.get(f"{health_url}/health/readiness", timeout=5.0)
        named = response.headers.get("x-litellm-version") or response.json().get("litellm_version")
        if named:
            return str(named)
        # without its database, readiness names no version (1.103.0): the proxy's FastAPI app still does
        spec = httpx.get(f"{health_url}/openapi.json", timeout=15.0)
        return str(spec.json().get("info", {}).get("version") or "unknown") if spec.status_code == 200 else "unknown"
    except (httpx.HTTPError, ValueError):
        return "unreachable"


def bot_polling(telegram_url: str) -> bool:
    """The Bot API stand-in has seen the bot's getUpdates long poll."""
    try:
        with TelegramControl(telegram_url) as telegram:
            return telegram.polling()
    except httpx.HTTPError:
        return False
