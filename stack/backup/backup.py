"""The reference backup job (VPS plan slice 10): Postgres, Redis and the git truth repo into a store.

`python stack/backup/backup.py run --store file:///backups | s3://bucket/prefix | gs://bucket/prefix
 [--s3-endpoint URL | --gcs-endpoint URL] --postgres URL --redis URL --git REPO [--retention-days 30]
 [--notify URL]`

One set per run, `<UTC stamp>/`: `postgres-<db>.dump` (pg_dump -Fc, every database), `redis.rdb`
(redis-cli --rdb), `git.bundle` (all refs), and `manifest.json` with each file's sha256 and size,
written last so a set without a manifest is known to be incomplete. Sets older than the retention
are pruned after a successful run. Any failure exits non-zero, names the step, and posts to --notify.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx

STAMP = "%Y%m%dT%H%M%SZ"
_GCS_TIMEOUT = (3, 30)  # connect, read (seconds)


class BackupFailed(RuntimeError):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"backup failed at {step}: {reason}")
        self.step = step


class Store:
    """A directory (`file:///path`), an S3 bucket and prefix (`s3://bucket/prefix`) or a Cloud Storage
    one (`gs://bucket/prefix`, the plan's store; credentials from the environment, as gsutil's)."""

    def __init__(self, url: str, endpoint: str | None = None, retry_s: float = 30.0) -> None:
        parts = urlsplit(url)
        self.kind = parts.scheme
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        if self.kind == "file":
            self.root = Path(parts.path)
        elif self.kind == "s3":
            import boto3
            from botocore.config import Config

            self.s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(
                connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}))
        elif self.kind == "gs":
            from google.cloud import storage
            from google.cloud.storage.retry import DEFAULT_RETRY

            # the library's retry (transient errors, backoff) bounded by retry_s; uploads included, since a
            # set's files are only written under a new stamp
            self.retry = DEFAULT_RETRY.with_timeout(retry_s)

            # an endpoint without credentials of its own is a test server: anonymous, as with STORAGE_EMULATOR_HOST
            options = {"api_endpoint": endpoint} if endpoint else None
            anonymous = bool(endpoint) and not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
            self.gcs = storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT") or None, client_options=options,
                                      use_auth_w_custom_endpoint=not anonymous).bucket(self.bucket)
        else:
            raise SystemExit(f"store {url}: use file:///path, s3://bucket/prefix or gs://bucket/prefix")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, name: str, source: Path) -> None:
        if self.kind == "file":
            target = self.root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        elif self.kind == "s3":
            self.s3.upload_file(str(source), self.bucket, self._key(name))
        else:
            self.gcs.blob(self._key(name)).upload_from_filename(str(source), timeout=_GCS_TIMEOUT, retry=self.retry)

    def get(self, name: str, target: Path) -> None:
        if self.kind == "file":
            shutil.copyfile(self.root / name, target)
        elif self.kind == "s3":
            self.s3.download_file(self.bucket, self._key(name), str(target))
        else:
            self.gcs.blob(self._key(name)).download_to_filename(str(target), timeout=_GCS_TIMEOUT, retry=self.retry)

    def names(self) -> list[str]:
        if self.kind == "file":
            return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file()) \
                if self.root.exists() else []
        prefix = f"{self.prefix}/" if self.prefix else ""
        if self.kind == "gs":
            blobs = self.gcs.client.list_blobs(self.gcs, prefix=prefix, timeout=_GCS_TIMEOUT, retry=self.retry)
            return sorted(b.name[len(prefix):] for b in blobs)
        found, token = [], None
        while True:
            kwargs = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self.s3.list_objects_v2(**kwargs)
            found += [o["Key"][len(prefix):] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(found)
            token = page["NextContinuationToken"]

    def delete(self, name: str) -> None:
        if self.kind == "file":
            (self.root / name).unlink(missing_ok=True)
        elif self.kind == "s3":
            self.s3.delete_object(Bucket=self.bucket, Key=self._key(name))
        else:
            self.gcs.blob(self._key(name)).delete(timeout=_GCS_TIMEOUT, retry=self.retry)

    def sets(self) -> dict[str, list[str]]:
        """Backup sets by stamp, with their files."""
        out: dict[str, list[str]] = {}
        for name in self.names():
            stamp, _, rest = name.partition("/")
            out.setdefault(stamp, []).append(rest)
        return out


def _run(step: str, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupFailed(step, f"{argv[0]}: {exc}") from None
    if result.returncode:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise BackupFailed(step, last[0] if last else f"exit {result.returncode}")
    return result


def _databases(postgres: str) -> list[str]:
    out = _run("postgres: list databases", ["psql", postgres, "-At", "-c",
                                            "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1"])
    return [line for line in out.stdout.split() if line]


def dump(args: argparse.Namespace, folder: Path) -> list[Path]:
    files = []
    if args.postgres:
        base = urlsplit(args.postgres)
        for db in _databases(args.postgres):
            target = folder / f"postgres-{db}.dump"
            url = base._replace(path=f"/{db}").geturl()
            excluded = [f"--exclude-table={t}" for t in args.exclude_table]
            _run(f"postgres: pg_dump {db}", ["pg_dump", "-Fc", "-f", str(target), *excluded, url])
            files.append(target)
    if args.redis:
        parts = urlsplit(args.redis)
        target = folder / "redis.rdb"
        _run("redis: --rdb", ["redis-cli", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379),
                              "--rdb", str(target)])
        files.append(target)
    if args.git:
        target = folder / "git.bundle"
        _run("git: bundle", ["git", "-C", str(args.git), "bundle", "create", str(target), "--all"])
        files.append(target)
    return files


def run(args: argparse.Namespace) -> dict[str, object]:
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime(STAMP)
    try:
        store = Store(args.store, args.gcs_endpoint if args.store.startswith("gs://") else args.s3_endpoint,
                      args.store_retry_s)
    except Exception as exc:  # e.g. no credentials for the bucket: a named failure, and notified
        raise BackupFailed("store: open", f"{type(exc).__name__}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="backup-") as tmp:
        files = dump(args, Path(tmp))
        manifest = {"stamp": stamp, "files": {f.name: {"sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
                                                       "bytes": f.stat().st_size} for f in files}}
        for f in files:
            try:
                store.put(f"{stamp}/{f.name}", f)
            except Exception as exc:  # any store error (network, auth, bucket) is the same failure
                raise BackupFailed("store: upload", f"{f.name}: {type(exc).__name__}: {exc}") from None
        manifest_file = Path(tmp) / "manifest.json"
        manifest_file.write_text(json.dumps(manifest, indent=1))
        try:
            if not args.skip_manifest:
                store.put(f"{stamp}/manifest.json", manifest_file)
        except Exception as exc:
            raise BackupFailed("store: manifest", f"{type(exc).__name__}: {exc}") from None
    try:
        pruned = prune(store, args.retention_days)
    except Exception as exc:
        raise BackupFailed("store: prune", f"{type(exc).__name__}: {exc}") from None
    return {"stamp": stamp, "files": sorted(manifest["files"]), "pruned": pruned,
            "seconds": round(time.monotonic() - started, 3)}


def prune(store: Store, days: float) -> list[str]:
    cutoff = datetime.now(UTC) - timedelta(days=days)
    pruned = []
    for stamp, names in store.sets().items():
        try:
            when = datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)
        except ValueError:
            continue  # not ours: never delete what we did not write
        if when < cutoff:
            for name in names:
                store.delete(f"{stamp}/{name}")
            pruned.append(stamp)
    return pruned


def notify(url: str | None, message: dict[str, object]) -> None:
    if not url:
        return
    try:
        httpx.post(url, json=message, timeout=5)
    except httpx.HTTPError as exc:
        print(f"backup: the failure notification was not delivered either ({type(exc).__name__})", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--store", required=True)
    parser.add_argument("--s3-endpoint", help="an S3-compatible endpoint (MinIO, a test server)")
    parser.add_argument("--gcs-endpoint", help="a Cloud Storage JSON API endpoint (a test server); "
                        "default: storage.googleapis.com with Application Default Credentials")
    parser.add_argument("--store-retry-s", type=float, default=30.0, help="how long to retry a failing Cloud "
                        "Storage call before the run fails (the library's own default is 120 s)")
    parser.add_argument("--postgres")
    parser.add_argument("--redis")
    parser.add_argument("--git", type=Path)
    parser.add_argument("--retention-days", type=float, default=30.0)
    parser.add_argument("--notify", help="webhook for failures")
    parser.add_argument("--exclude-table", action="append", default=[], help="(negative control) skip a table")
    parser.add_argument("--skip-manifest", action="store_true", help="(negative control) never write the manifest")
    args = parser.parse_args()
    try:
        result = run(args)
    except BackupFailed as exc:
        print(f"backup: {exc}", file=sys.stderr)
        notify(args.notify, {"alert": "backup_failed", "step": exc.step, "error": str(exc)})
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
