"""Drives the reference backup job (stack/backup) against a stack and restores what it wrote into
fresh servers, so BK-1..BK-4 compare data, not exit codes.

Seed data goes into the stack's Postgres (a database of its own), Redis (keys under `bk:`) and a
truth repository; the S3 store is a moto server and the Cloud Storage one (the plan's) the harness's
GCS stand-in, each behind a fault proxy, so the store can be cut.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import httpx
import redis

from harness._proc import StartupError, Supervisor, free_port
from harness.faults import Proxy, Toxiproxy
from harness.observer import init_truth_repo
from harness.providers.processes import binary, redis_ping, start_postgres
from harness.standins.alerts import AlertSink
from harness.target import REPO

__all__ = ["BACKUP_JOB", "BackupRig", "Restored", "fingerprint", "open_store", "restore_set"]

BACKUP_JOB = REPO / "stack" / "backup" / "backup.py"
SEED_DB = "harness_app"
BUCKET = "harness-backups"


@dataclass
class Restored:
    postgres: dict[str, dict[str, Any]]
    redis: dict[str, Any]
    git: list[str]
    seconds: float
    errors: list[str] = field(default_factory=list)  # manifest mismatches and restore steps that failed
    key_count: int = 0  # every key the snapshot loaded (`redis` holds the `bk:` ones with their values)


def _psql(url: str, sql: str, db: str | None = None) -> str:
    if db is not None:
        url = url.rsplit("/", 1)[0] + f"/{db}"
    return subprocess.run([binary("psql", "postgresql"), url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                          capture_output=True, text=True, check=True).stdout


def fingerprint(postgres_url: str, redis_url: str, repo: Path) -> tuple[dict[str, dict[str, Any]],
                                                                        dict[str, Any], list[str]]:
    """Row count and an ordered-content md5 per table of every database; every `bk:` key's type and value;
    every git ref."""
    return _tables(postgres_url), _keys(redis_url), _refs(repo)


def _tables(postgres_url: str, digests: bool = True) -> dict[str, dict[str, Any]]:
    """Rows per table of every database, and (`digests`) an md5 of each table's ordered content."""
    tables: dict[str, dict[str, Any]] = {}
    for db in _psql(postgres_url, "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1").split():
        names = _psql(postgres_url, "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN "
                                    "('pg_catalog', 'information_schema') ORDER BY 1", db).split()
        for name in names:
            if not digests:
                tables[f"{db}:{name}"] = {"rows": int(_psql(postgres_url, f"SELECT count(*) FROM {name}", db))}
                continue
            count, digest = _psql(postgres_url, f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY "
                                                f"t::text), '')) FROM {name} t", db).strip().split("|")
            tables[f"{db}:{name}"] = {"rows": int(count), "md5": digest}
    return tables


def _keys(redis_url: str) -> dict[str, Any]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys: dict[str, Any] = {}
    for key in sorted(client.scan_iter("bk:*")):
        kind = client.type(key)
        value = {"string": lambda k: client.get(k), "hash": lambda k: client.hgetall(k),
                 "list": lambda k: client.lrange(k, 0, -1), "set": lambda k: sorted(client.smembers(k)),
                 "zset": lambda k: client.zrange(k, 0, -1, withscores=True)}[kind](key)
        keys[key] = [kind, value]
    client.close()
    return keys


def _refs(repo: Path) -> list[str]:
    refs = subprocess.run(["git", "-C", str(repo), "for-each-ref", "--format=%(objectname) %(refname)"],
                          capture_output=True, text=True, check=True).stdout.split("\n")
    return sorted(r for r in refs if r and "refs/remotes/" not in r)


def _checked(work: Path, names: list[str]) -> list[str]:
    """What disagrees with the set's manifest (sha256 and size per file, written last by the job)."""
    try:
        manifest = json.loads((work / "manifest.json").read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"manifest.json unreadable ({type(exc).__name__}): the set cannot be verified"]
    errors = []
    for name, expected in manifest.items():
        path = work / name
        if name not in names or not path.exists():
            errors.append(f"{name}: in the manifest, not in the store")
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != expected.get("sha256"):
            errors.append(f"{name}: sha256 differs from the manifest ({len(data):,} bytes, manifest says "
                          f"{expected.get('bytes', '?'):,})")
    return errors


def _stderr(exc: subprocess.CalledProcessError) -> str:
    text = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
    lines = text.strip().splitlines()
    return lines[-1][:200] if lines else f"exit {exc.returncode}"


def open_store(url: str, endpoint: str | None = None) -> Any:
    """The backup job's own store code (file, S3, Cloud Storage), so what is read is what it wrote."""
    return _job().Store(url, endpoint)


def restore_set(source: Any, stamp: str, digests: bool = True) -> Restored:
    """A set of `source` restored into a new Postgres cluster, a new redis-server and a clone of the bundle.
    A step that fails (a corrupt dump, an unloadable snapshot) is an error of the result, not an exception.
    `digests=False` counts rows without hashing every table (someone else's production-sized data)."""
    started = time.monotonic()
    # under the system temp dir: Postgres runs as its own user there when we are root
    work = Path(tempfile.mkdtemp(prefix="harness-restore-"))
    names = source.sets()[stamp]
    for name in names:
        source.get(f"{stamp}/{name}", work / name)
    errors = _checked(work, names)
    tables: dict[str, dict[str, Any]] = {}
    keys: dict[str, Any] = {}
    refs: list[str] = []
    key_count = 0
    sup = Supervisor(work)
    sup.guard_dir(work)  # removed with the servers, even if the harness dies mid-restore
    try:
        if any(n.startswith("postgres-") for n in names):
            url = start_postgres(sup, (binary("initdb", "postgresql"), binary("postgres", "postgresql")),
                                 work, name="postgres-restore")
            restore_bin = binary("pg_restore", "postgresql")
            for name in names:
                if name.startswith("postgres-") and name.endswith(".dump"):
                    db = name.removeprefix("postgres-").removesuffix(".dump")
                    if db != "postgres":
                        _psql(url, f"CREATE DATABASE {db}")
                    try:
                        subprocess.run([restore_bin, "--no-owner", "-d", url.rsplit("/", 1)[0] + f"/{db}",
                                        str(work / name)], check=True, capture_output=True)
                    except subprocess.CalledProcessError as exc:
                        errors.append(f"pg_restore {name}: {_stderr(exc)}")
            tables = _tables(url, digests)
        if "redis.rdb" in names:
            port = free_port()
            server = sup.start("redis-restore", [binary("redis-server", "redis-server"), "--port", str(port),
                                                 "--bind", "127.0.0.1", "--dir", str(work), "--dbfilename",
                                                 "redis.rdb", "--appendonly", "no", "--save", ""])
            try:
                sup.ready(server, lambda: redis_ping(port), 15)
                keys = _keys(f"redis://127.0.0.1:{port}/0")
                key_count = int(redis.Redis(port=port, socket_timeout=5).dbsize())
            except StartupError as exc:  # redis-server refuses a damaged snapshot and exits
                errors.append(f"redis.rdb did not load: {str(exc)[:200]}")
        if "git.bundle" in names:
            clone = work / "git"
            try:
                subprocess.run(["git", "clone", "-q", "--mirror", str(work / "git.bundle"), str(clone)], check=True,
                               capture_output=True)
                refs = _refs(clone)
            except subprocess.CalledProcessError as exc:
                errors.append(f"git clone git.bundle: {_stderr(exc)}")
    finally:
        sup.close()
    return Restored(tables, keys, refs, round(time.monotonic() - started, 3), errors, key_count)


class BackupRig:
    def __init__(self, postgres_url: str, redis_url: str, toxiproxy_url: str | None, folder: Path,
                 notify_url: str | None) -> None:
        self.postgres_url, self.redis_url, self.folder = postgres_url, redis_url, folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.notify_url = notify_url
        self.repo = init_truth_repo(self.folder / "truth")
        self.local_store = f"file://{self.folder / 'store'}"
        self.supervisor = Supervisor(self.folder)
        # the stores run on this host: behind the stack's fault server where it runs here too, else behind
        # one of the rig's own (a fault server inside a container network cannot reach them)
        self.toxiproxy = Toxiproxy(toxiproxy_url or self._own_fault_server())
        self.s3_proxy: Proxy | None = None
        self.s3_endpoint: str | None = None
        self.gcs_proxy: Proxy | None = None
        self.gcs_endpoint: str | None = None
        self.standins: list[str] = []  # the stores that were not the real service, for the report
        self.sink: AlertSink | None = None  # where the job's failure notification is looked for (BK-4)
        for name, value in _aws_env().items():  # the job's Store is also used here, to list and restore
            if name.startswith("AWS_"):
                os.environ.setdefault(name, value)

    def _own_fault_server(self) -> str:
        port_file = self.folder / "faults.port"
        service = self.supervisor.start("toxiproxy", [sys.executable, "-m", "harness.standins.toxiproxy", "--port",
                                                      "0", "--port-file", str(port_file)], cwd=REPO)
        self.supervisor.ready(service, port_file.exists, 15)
        return f"http://127.0.0.1:{port_file.read_text().strip()}"

    def seed(self, rows: int = 500) -> None:
        _psql(self.postgres_url, f"DROP DATABASE IF EXISTS {SEED_DB}")
        _psql(self.postgres_url, f"CREATE DATABASE {SEED_DB}")
        _psql(self.postgres_url, f"""
            CREATE TABLE customers (id int PRIMARY KEY, name text, plan text, created timestamptz);
            INSERT INTO customers SELECT i, 'customer ' || i, (ARRAY['free','team','ceo'])[1 + i % 3],
                   '2026-01-01'::timestamptz + i * interval '1 hour' FROM generate_series(1, {rows}) i;
            CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers, usd numeric(10,2));
            INSERT INTO orders SELECT i, 1 + i % {rows}, (i * 7 % 1000) / 10.0 FROM generate_series(1, {rows * 3}) i;
            CREATE TABLE spend (team text, day date, usd double precision, PRIMARY KEY (team, day));
            INSERT INTO spend VALUES ('customer', '2026-11-01', 12.5), ('ceo', '2026-11-01', 3.25);""", SEED_DB)
        client = redis.Redis.from_url(self.redis_url)
        pipe = client.pipeline()
        for i in range(200):
            pipe.set(f"bk:string:{i}", f"value {i}")
        pipe.hset("bk:hash", mapping={f"f{i}": str(i * i) for i in range(50)})
        pipe.rpush("bk:list", *[f"item {i}" for i in range(30)])
        pipe.sadd("bk:set", *[f"member {i}" for i in range(20)])
        pipe.zadd("bk:zset", {f"z{i}": i / 3 for i in range(20)})
        pipe.execute()
        client.close()
        for i in range(3):
            (self.repo / f"aggregate-{i}.json").write_text(json.dumps({"version": i}))
            subprocess.run(["git", "-C", str(self.repo), "add", "."], check=True)
            subprocess.run(["git", "-c", "user.name=seed", "-c", "user.email=seed@example.invalid", "-C",
                            str(self.repo), "commit", "-qm", f"seed {i}"], check=True)

    def s3_store(self) -> str:
        """A moto S3 server behind a fault proxy named `s3`; returns the store URL (endpoint set)."""
        if self.s3_endpoint is None:
            port = free_port()
            moto = self.supervisor.start("moto", [str(Path(sys.executable).parent / "moto_server"), "-H",
                                                  "127.0.0.1", "-p", str(port)])
            self.supervisor.ready(moto, lambda: _up(f"http://127.0.0.1:{port}/"), 30)
            if self.toxiproxy is not None:
                self.s3_proxy = self.toxiproxy.create("s3", f"127.0.0.1:{port}")
                self.s3_endpoint = f"http://{self.s3_proxy.address}"
            else:
                self.s3_endpoint = f"http://127.0.0.1:{port}"
            _s3(self.s3_endpoint).create_bucket(Bucket=BUCKET)
            self.standins.append("S3 (backup store): moto server")
        return f"s3://{BUCKET}/nightly"

    def gcs_store(self, *faults: str) -> str:
        """The Cloud Storage stand-in (`harness.standins.gcs`, with `faults` for a broken one) behind a fault proxy
        named `gcs`; returns the store URL (endpoint set). A stand-in: the report says so."""
        if self.gcs_endpoint is None:
            port_file = self.folder / "gcs.port"
            server = self.supervisor.start("gcs", [sys.executable, "-m", "harness.standins.gcs", "--port-file",
                                                   str(port_file), *[f"--fault={f}" for f in faults]], cwd=REPO)
            self.supervisor.ready(server, port_file.exists, 30)
            upstream = f"127.0.0.1:{port_file.read_text()}"
            if self.toxiproxy is not None:
                self.gcs_proxy = self.toxiproxy.create("gcs", upstream)
                upstream = self.gcs_proxy.address
            self.gcs_endpoint = f"http://{upstream}"
            httpx.post(f"{self.gcs_endpoint}/storage/v1/b", params={"project": "harness"}, json={"name": BUCKET},
                       timeout=10).raise_for_status()
            self.standins.append("Cloud Storage (backup store): harness stand-in (JSON API)")
        return f"gs://{BUCKET}/nightly"

    def run(self, store: str, *extra: str, retention_days: float = 30.0) -> tuple[int, dict[str, Any], str]:
        argv = [sys.executable, str(BACKUP_JOB), "run", "--store", store, "--postgres", self.postgres_url,
                "--redis", self.redis_url, "--git", str(self.repo), "--retention-days", str(retention_days), *extra]
        if store.startswith("s3://") and self.s3_endpoint:
            argv += ["--s3-endpoint", self.s3_endpoint]
        if store.startswith("gs://") and self.gcs_endpoint:
            argv += ["--gcs-endpoint", self.gcs_endpoint]
        if self.notify_url:
            argv += ["--notify", self.notify_url]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                                env={**_aws_env(), "PATH": _path()})
        parsed = json.loads(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else {}
        return result.returncode, parsed, result.stderr.strip()

    def restore(self, store: str, stamp: str) -> Restored:
        """Into a new Postgres cluster, a new redis-server and a clone: what the set really holds."""
        return restore_set(self._store(store), stamp)

    def plant(self, store: str, days_ago: float) -> str:
        """An old set (manifest only) as if written `days_ago` days ago; returns its stamp."""
        stamp = (datetime.now(UTC) - timedelta(days=days_ago)).strftime(_job().STAMP)
        planted = self.folder / f"planted-{stamp}.json"
        planted.write_text(json.dumps({"stamp": stamp, "files": {}, "planted": True}))
        self._store(store).put(f"{stamp}/manifest.json", planted)
        return stamp

    def sets(self, store: str) -> dict[str, list[str]]:
        return self._store(store).sets()

    def _store(self, store: str) -> Any:
        """The job's own store code: listing, planting and restoring read exactly what it wrote."""
        return open_store(store, self.gcs_endpoint if store.startswith("gs://") else self.s3_endpoint)

    def close(self) -> None:
        for proxy in (self.s3_proxy, self.gcs_proxy):
            if proxy is not None:
                proxy.delete()
        self.supervisor.close()


@functools.cache
def _job() -> ModuleType:
    """stack/backup/backup.py, loaded once by path."""
    spec = importlib.util.spec_from_file_location("harness_backup_job", BACKUP_JOB)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def _aws_env() -> dict[str, str]:
    # moto accepts any credentials; real ones come from the operator's environment
    return {**os.environ, "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "harness"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "harness"),
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}


def _path() -> str:
    bins = {str(Path(binary("pg_dump", "postgresql")).parent), str(Path(binary("redis-cli", "redis-server")).parent)}
    return ":".join([*sorted(bins), os.environ.get("PATH", "")])


def _s3(endpoint: str) -> Any:
    env = _aws_env()
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_DEFAULT_REGION"])
