"""`python -m harness.load.runner --spec F --out DIR [--master N --bind H --port P]` or `--worker --connect H --port P`.

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
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.runners import STATE_STOPPED, STATE_STOPPING, MasterRunner, Runner  # noqa: E402

from harness.load import users  # noqa: E402
from harness.load.hosts import LoadRefused, check_host  # noqa: E402
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


def _worker(args: argparse.Namespace, key: str, stop: gevent.event.Event) -> int:
    """Connects to the master, takes the run's spec from it, checks the target against its own allow-list
    (`--allow-host`), and sends. The gateway key never crosses the master link: it is this machine's own."""
    # host and pid alone repeat across containers on the host's network (same hostname, pid 7 in each)
    name = f"worker-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    env = Environment(user_classes=[users.ArrivalUser, users.ChatUser])
    runner = env.create_worker_runner(args.connect, args.port)

    def on_spec(environment: Environment, msg: Any) -> None:
        spec = msg.data
        try:
            check_host(spec["url"], args.allow_host, where="--allow-host of harness load-worker")
        except LoadRefused as exc:
            runner.send_message("harness_refused", {"worker": name, "reason": str(exc)})
            print(f"load worker {name}: {exc}", file=sys.stderr)
            stop.set()
            return
        users.configure(spec, key, name)
        runner.send_message("harness_configured", {"worker": name})

    def ship(client_id: str, data: dict[str, Any]) -> None:
        batch, users._Settings.pending[:] = list(users._Settings.pending), []
        data["harness_samples"] = batch

    runner.register_message("harness_spec", on_spec)
    env.events.report_to_master.add_listener(ship)
    # a worker serves one run: it leaves once its users stopped and one more report (every 3 s) carried the
    # last samples. Waiting for the master's quit cost a remote worker ~60 s: Locust's worker sleeps the
    # stop_timeout before it reads another message, and the master forgets a stopped worker, so its quit
    # reached none; the worker only left on the 60 s heartbeat timeout.
    env.events.test_stop.add_listener(lambda **kw: gevent.spawn_later(_FINAL_REPORT_WAIT_S, stop.set))
    runner.send_message("harness_hello", {"worker": name})
    gevent.spawn(lambda: (stop.wait(), runner.quit()))
    runner.greenlet.join()
    print(f"load worker {name}: {users._Settings.sent} requests sent", flush=True)
    return 0


def _await_workers(runner: MasterRunner, spec: dict[str, Any], expected: int, wait_s: float,
                   stop: gevent.event.Event, address: str) -> str | None:
    """Hands each worker that says hello the spec; waits until `expected` took it. Returns why not, or None."""
    configured: set[str] = set()
    refused: list[str] = []
    runner.register_message("harness_hello", lambda environment, msg: runner.send_message(
        "harness_spec", spec, client_id=msg.node_id))
    runner.register_message("harness_configured", lambda environment, msg: configured.add(msg.data["worker"]))
    runner.register_message("harness_refused", lambda environment, msg: refused.append(
        f"{msg.data['worker']}: {msg.data['reason']}"))
    waited = time.monotonic()
    while len(configured) < expected:
        if refused:
            return "a worker refused the run: " + "; ".join(refused)
        if stop.is_set():
            return "stopped while waiting for workers"
        if time.monotonic() - waited > wait_s:
            return (f"{len(configured)} of {expected} workers connected after {wait_s:.0f} s "
                    f"(start them with: harness load-worker --master {address})")
        gevent.sleep(0.1)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.load.runner", description=__doc__)
    parser.add_argument("--spec", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--master", type=int, default=0, metavar="WORKERS", help="run as master of N workers")
    parser.add_argument("--bind", default="127.0.0.1", help="master: the address workers connect to")
    parser.add_argument("--wait-s", type=float, default=60.0, help="master: how long to wait for the workers")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--connect", default="127.0.0.1", help="worker: the master's address")
    parser.add_argument("--allow-host", action="append", default=[], help="worker: a non-loopback target it may load")
    parser.add_argument("--port", type=int, default=5557)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    key = os.environ.get("HARNESS_LOAD_KEY", "")
    stop = gevent.event.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)
    if args.worker:
        return _worker(args, key, stop)
    if args.spec is None or args.out is None:
        parser.error("--spec and --out are needed except with --worker")
    spec = json.loads(args.spec.read_text())
    users.configure(spec, key, f"{'master' if args.master else 'local'}-{os.getpid()}")
    env = _environment(spec)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.master:
        runner = env.create_master_runner(args.bind, args.port)
        env.events.worker_report.add_listener(
            lambda client_id, data: users._Settings.pending.extend(data.get("harness_samples") or []))
        problem = _await_workers(runner, spec, args.master, args.wait_s, stop, f"{args.bind}:{args.port}")
        if problem:
            print(f"load runner: {problem}", file=sys.stderr)
            runner.quit()
            return 3
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
    progress.flush("interrupted" if interrupted else "finished")
    progress.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
