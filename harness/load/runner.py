"""`python -m harness.load.runner --spec F --out DIR [--master N --port P | --worker --port P]`.

The load generator's own process: Locust (and gevent's patching) never enters the harness or
pytest process. It writes `samples.jsonl` (every request) and `progress.jsonl` (once a second) to
DIR; SIGTERM or SIGINT stops the users, waits for their answers and still writes what it has.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 (gevent must patch the standard library first)
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.runners import STATE_STOPPED, STATE_STOPPING, MasterRunner, Runner, WorkerRunner  # noqa: E402

from harness.load import users  # noqa: E402
from harness.load.samples import percentile  # noqa: E402

_FINAL_REPORT_WAIT_S = 4.0  # Locust workers report every 3 s; the master waits one report more


def _environment(spec: dict[str, Any]) -> Environment:
    open_loop = spec["arrival"] != "closed"
    users.RunShape.stages = [(s["until_s"], s["users"], s["spawn_rate"]) for s in spec["stages"]]
    users.RunShape.lanes = int(spec["lanes"]) if open_loop else 0
    users.RunShape.deadline_s = spec["stages"][-1]["until_s"] + spec["timeout_s"] + 5
    user = users.ArrivalUser if open_loop else users.ChatUser
    return Environment(user_classes=[user], shape_class=users.RunShape(), stop_timeout=spec["timeout_s"] + 5)


class _Progress:
    """Appends new samples to samples.jsonl and one status line to progress.jsonl, every second."""

    def __init__(self, out: Path, runner: Runner) -> None:
        self.samples = (out / "samples.jsonl").open("a")
        self.progress = (out / "progress.jsonl").open("a")
        self.runner = runner
        self.started = time.time()
        self.latencies: list[float] = []
        self.done: list[float] = []
        self.errors = 0

    def flush(self, state: str | None = None) -> None:
        batch, users._Settings.pending[:] = list(users._Settings.pending), []
        for item in batch:
            self.samples.write(json.dumps(item) + "\n")
            finished = item["sent"] + item["e2e_s"]
            self.done.append(finished)
            if item["status"] == 200 and not item["error"]:
                late = item["sent"] - item["intended"] if item["intended"] is not None else 0.0
                self.latencies.append(item["e2e_s"] + late)
            else:
                self.errors += 1
        self.samples.flush()
        now = time.time()
        recent = sum(1 for t in self.done[-5000:] if t >= now - 5)
        line = {"t": round(now - self.started, 1), "users": self.runner.user_count, "requests": len(self.done),
                "errors": self.errors, "rps": round(recent / 5, 1),
                "p95_s": percentile(self.latencies, 0.95), "state": state or self.runner.state}
        self.progress.write(json.dumps(line) + "\n")
        self.progress.flush()

    def close(self) -> None:
        self.samples.close()
        self.progress.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.load.runner", description=__doc__)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--master", type=int, default=0, metavar="WORKERS", help="run as master of N workers")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--port", type=int, default=5557)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = json.loads(args.spec.read_text())
    key = os.environ.get("HARNESS_LOAD_KEY", "")
    role = "worker" if args.worker else "master" if args.master else "local"
    users.configure(spec, key, f"{role}-{os.getpid()}")
    env = _environment(spec)
    stop = gevent.event.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)

    if args.worker:
        runner = env.create_worker_runner("127.0.0.1", args.port)

        def ship(client_id: str, data: dict[str, Any]) -> None:
            batch, users._Settings.pending[:] = list(users._Settings.pending), []
            data["harness_samples"] = batch

        env.events.report_to_master.add_listener(ship)
        gevent.spawn(lambda: (stop.wait(), runner.quit()))
        runner.greenlet.join()
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    if args.master:
        runner = env.create_master_runner("127.0.0.1", args.port)
        env.events.worker_report.add_listener(
            lambda client_id, data: users._Settings.pending.extend(data.get("harness_samples") or []))
        waited = time.monotonic()
        while runner.worker_count < args.master:
            if stop.is_set() or time.monotonic() - waited > 60:
                print(f"load runner: {runner.worker_count} of {args.master} workers connected after 60 s",
                      file=sys.stderr)
                runner.quit()
                return 3
            gevent.sleep(0.1)
    else:
        runner = env.create_local_runner()
    progress = _Progress(args.out, runner)
    runner.start_shape()
    hard_stop = time.monotonic() + spec["stages"][-1]["until_s"] + spec["timeout_s"] + 30
    interrupted = False
    while runner.state != STATE_STOPPED:
        if stop.wait(1.0):
            interrupted = True
            break
        if time.monotonic() > hard_stop:
            break
        progress.flush()
    if runner.state not in (STATE_STOPPED, STATE_STOPPING):
        runner.stop()
    if isinstance(runner, MasterRunner):
        gevent.sleep(_FINAL_REPORT_WAIT_S)
    runner.quit()
    if isinstance(runner, WorkerRunner):
        return 0
    progress.flush("interrupted" if interrupted else "finished")
    progress.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
