"""Events/s through the reference observer (audit fsync + git commit per event, or one commit per
batch), next to raw XADD and XREADGROUP+XACK on the same Redis. Prints figures, asserts nothing."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness._proc import free_port
from harness.observer import OBSERVER_DIR, init_truth_repo, make_event

sys.path.insert(0, str(OBSERVER_DIR))
_spec = importlib.util.spec_from_file_location("reference_observer", OBSERVER_DIR / "observer.py")
assert _spec is not None and _spec.loader is not None
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)
schema = sys.modules["event_schema"]


def _observer_rate(client: redis.Redis, folder: Path, count: int, batch: bool) -> float:
    stream = f"bench_{'batch' if batch else 'single'}"
    versions: dict[str, int] = {}
    for i in range(count):
        aggregate = f"project:p{i % 8}"
        schema.publish(client, make_event(aggregate, versions.get(aggregate, 0)), stream=stream)
        versions[aggregate] = versions.get(aggregate, 0) + 1
    folder.mkdir(parents=True)
    observer = reference.Observer(client, init_truth_repo(folder / "truth"), folder / "audit.jsonl",
                                  folder / "changes", stream=stream, push=False, batch=batch)
    observer.setup()
    started = time.perf_counter()
    done = 0
    while done < count:
        done += observer.step(block_ms=1)
    return count / (time.perf_counter() - started)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-observer-"))
    port = free_port()
    server = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--save", "",
                               "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        body = make_event("project:raw", 0)
        payload = {"event": schema.parse(body).model_dump_json()}
        count = 5000
        started = time.perf_counter()
        for _ in range(count):
            client.xadd("raw", payload)
        xadd = count / (time.perf_counter() - started)
        client.xgroup_create("raw", "g", id="0")
        started = time.perf_counter()
        read = 0
        while read < count:
            reply = client.xreadgroup("g", "c", {"raw": ">"}, count=50)
            ids = [eid for _, entries in reply for eid, _ in entries]
            client.xack("raw", "g", *ids)
            read += len(ids)
        xread = count / (time.perf_counter() - started)
        single = _observer_rate(client, tmp / "single", 300, batch=False)
        batched = _observer_rate(client, tmp / "batched", 3000, batch=True)
        print(f"raw XADD (one client, no pipeline):      {xadd:>8,.0f} events/s")
        print(f"raw XREADGROUP+XACK (batches of 50):     {xread:>8,.0f} events/s")
        print(f"observer, one commit per event:          {single:>8,.1f} events/s  ({single / xread:.4f} of raw read)")
        print(f"observer, one commit per batch (<= 50):  {batched:>8,.1f} events/s  "
              f"({batched / xread:.4f} of raw read)")
        print("(per event: schema check, fsync'd audit line, aggregate file; git add+commit per event or batch)")
    finally:
        server.terminate()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
