"""The compose provider: the user's own compose files, started through Testcontainers' compose support.

Their services run with their images, commands, config and volumes; the harness adds an override
(`_override.py`): its mock providers, Langfuse stand-in, fault server and sinks, the user's services
re-pointed through the fault proxies, every port on loopback. The run is one compose project,
`harness-<run>`: `down --volumes` removes it at the end, and the reaper removes whatever carries the
project's label if the harness itself is killed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
from testcontainers.compose import DockerCompose

from harness._proc import Supervisor, wait_until
from harness.control import ContainerControl
from harness.faults import Toxiproxy
from harness.images import IMAGES, MissingImage, present
from harness.observer import init_truth_repo
from harness.providers._containers import PROXY_PORTS
from harness.providers._override import FAULTS, HARNESS_PORTS, health_path, render
from harness.providers.base import Provider
from harness.providers.processes import bot_polling, http_ok, redis_ping, reported_litellm_version
from harness.providers.wiring import Endpoints, StackKeys, assemble, write_team_keys
from harness.sections import ComposeTarget, EventsTarget
from harness.stack import ServiceLogs, Stack
from harness.target import Target

__all__ = ["ComposeProvider"]

PROJECT_LABEL = "com.docker.compose.project"
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


@dataclass
class _Project(DockerCompose):
    """DockerCompose for one named project (`-p`): the run's containers, networks and volumes carry its label."""

    project: str = "harness"

    @cached_property
    def compose_command_property(self) -> list[str]:
        binary, compose, *rest = super().compose_command_property
        return [binary, compose, "-p", self.project, *rest]


def _published(containers: list[Any]) -> dict[tuple[str, int], int]:
    """(service, container port) -> the loopback port it is published on."""
    return {(c.Service, int(p.TargetPort)): int(p.PublishedPort) for c in containers for p in c.Publishers
            if p.PublishedPort and p.URL and ":" not in p.URL}


class ComposeProvider(Provider):
    """Starts the user's compose files for a Target (provider: compose); `stop()` removes the whole project."""

    def __init__(self, target: Target, run_dir: Path, *, startup_deadline_s: float = 180.0) -> None:
        if target.compose is None or target.litellm_config is None:
            raise ValueError("the compose provider needs target.compose and target.litellm_config")
        self.target, self.spec, self.config = target, target.compose, target.litellm_config
        self.run_dir, self.deadline = run_dir, startup_deadline_s
        self.log_dir = run_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_id = uuid.uuid4().hex[:12]
        self.project = f"harness-{self.run_id}"
        self.tmp = Path(tempfile.mkdtemp(prefix="harness-compose-"))
        self.supervisor: Supervisor | None = None
        self.compose: _Project | None = None
        self.ids: dict[str, str] = {}

    def _compose(self, files: list[Path]) -> _Project:
        return _Project(context=str(self.spec.project_dir), compose_file_name=[str(f) for f in files], wait=False,
                        project=self.project)

    def start(self) -> Stack:
        _preflight()
        started = time.monotonic()
        self.supervisor = Supervisor(self.log_dir)
        self.supervisor.guard_docker(f"{PROJECT_LABEL}={self.project}")  # a killed harness leaves nothing
        self.supervisor.guard_dir(self.tmp)
        try:
            return self._start(started)
        except BaseException:
            self.stop()
            raise

    def _start(self, started: float) -> Stack:
        user = self._compose(self.spec.files)
        resolved = subprocess.run([*user.compose_command_property, "config", "--format", "json"], capture_output=True,
                                  text=True, cwd=self.spec.project_dir, timeout=60)
        if resolved.returncode:
            raise MissingImage(f"docker compose config failed for {', '.join(map(str, self.spec.files))}: "
                               f"{resolved.stderr.strip()[-300:]}")
        config = json.loads(resolved.stdout)
        _check_roles(self.spec, config)
        images = _images(config, self.target)
        harness_image = self.target.images.get("services") or IMAGES["services"].tag
        keys = StackKeys.new()
        if self.spec.services.langfuse and self.spec.langfuse_public_key and self.spec.langfuse_secret_key:
            # your Langfuse's project: the gateway sends to it with its keys, the checks read with them
            keys = dataclasses.replace(keys, langfuse_public=self.spec.langfuse_public_key,
                                       langfuse_secret=self.spec.langfuse_secret_key.get_secret_value())
        keys_dir = self.tmp / "keys"
        keys_dir.mkdir()
        teams, budget, keys_file = write_team_keys(self.target, self.config, keys_dir)
        os.chmod(self.tmp, 0o755)
        os.chmod(keys_dir, 0o755)
        os.chmod(keys_file, 0o644)  # read by the container's user; the folder is this run's and removed after
        state = self._observer_state()
        override = render(self.spec, config, image=harness_image, keys=keys, keys_dir=keys_dir, observer_state=state)
        self.compose = compose = self._compose([*self.spec.files, override.write(self.tmp / "harness.override.yml")])
        compose.services = override.harness_services  # the fault proxies exist before anything connects through them
        self._up(compose)
        ports = _published(compose.get_containers())
        faults_url = f"http://127.0.0.1:{ports[(FAULTS, 8474)]}"
        self._ready(FAULTS, lambda: http_ok(f"{faults_url}/version"))
        Toxiproxy(faults_url).populate([{"name": name, "listen": f"0.0.0.0:{PROXY_PORTS[name]}", "upstream": up}
                                        for name, up in override.upstreams.items()])
        compose.services = None
        self._up(compose)
        containers = compose.get_containers(include_all=True)
        self.ids = {c.Service: str(c.ID) for c in containers if c.Service and c.ID}
        ports = _published(containers)
        at = self._endpoints(ports, faults_url)
        self._wait_all(at, ports)
        roles = {role: self.ids[name] for role, name in self.spec.services.model_dump().items()
                 if isinstance(name, str) and role not in ("router_path",) and name in self.ids}
        target = self.target.model_copy(update={"events": self._events(at.redis, state)}) if state else self.target
        logs = ServiceLogs(folder=self.log_dir, containers={name: ident[:12] for name, ident in self.ids.items()})
        stack = assemble(target, provider="compose", config=self.config, keys=keys, at=at, teams=teams,
                         budget=budget, versions={f"image_{name}": ref for name, ref in images.items()},
                         startup_s={"total": round(time.monotonic() - started, 3)}, logs=logs)
        stack.control = ContainerControl({**self.ids, **roles})
        # the gateway is the image's LiteLLM, not the harness's pinned one: its version as it reports it
        for key in ("litellm_pinned", "litellm_lock_sha256", "litellm_record_sha256", "litellm_binary"):
            stack.versions.pop(key, None)
        stack.versions["litellm"] = reported_litellm_version(at.gateway)
        stack.standins.append(f"compose: {', '.join(str(f) for f in self.spec.files)} as project {self.project}, "
                              "with the harness's override (mocks, fault proxies, loopback ports)")
        return stack

    def _up(self, compose: _Project) -> None:
        try:
            compose.start()
        except subprocess.CalledProcessError as exc:
            tail = " | ".join(exc.stderr.decode(errors="replace").strip().splitlines()[-3:])
            raise MissingImage(f"docker compose up failed: {tail}") from None

    def _observer_state(self) -> Path | None:
        """A fresh truth remote and work tree (origin: the remote, by a path relative to the work tree, so it
        resolves the same inside the container), audit log and change-request folder."""
        spec = self.spec.observer
        if not self.spec.services.observer or spec is None:
            return None
        state = self.tmp / "observer"
        state.mkdir()
        work, remote = state / spec.work_tree, state / spec.remote
        init_truth_repo(work, remote)
        subprocess.run(["git", "-C", str(work), "remote", "set-url", "origin", os.path.relpath(remote, work)],
                       check=True)
        if spec.change_requests:
            (state / spec.change_requests).mkdir(parents=True, exist_ok=True)
        subprocess.run(["chmod", "-R", "a+rwX", str(state)], check=True)  # the container's user may differ
        return state

    def _events(self, redis_url: str, state: Path) -> EventsTarget:
        spec = self.spec.observer
        assert spec is not None
        return EventsTarget(redis_url=redis_url, stream=spec.stream, group=spec.group,
                            truth_remote=str(state / spec.remote), observer_identity=spec.identity,
                            event_id_trailer=spec.event_id_trailer, settle_s=spec.settle_s,
                            audit_log=state / spec.audit_log if spec.audit_log else None,
                            change_requests=state / spec.change_requests if spec.change_requests else None)

    def _endpoints(self, ports: dict[tuple[str, int], int], faults_url: str) -> Endpoints:
        roles = self.spec.services

        def url(service: str, port: int) -> str:
            if (service, port) not in ports:
                raise MissingImage(f"service {service} publishes no port {port}: is it running? see "
                                   f"{self.log_dir}/{service}.log")
            return f"http://127.0.0.1:{ports[(service, port)]}"

        redis = f"redis://127.0.0.1:{ports[(roles.redis, 6379)]}/0" if roles.redis else ""
        postgres = None
        if roles.postgres:
            postgres = f"postgresql://postgres@127.0.0.1:{ports[(roles.postgres, 5432)]}/postgres"
        langfuse = url(roles.langfuse, roles.langfuse_port) if roles.langfuse else url("harness-langfuse", 3000)
        return Endpoints(gateway=url(roles.gateway, roles.gateway_port), langfuse=langfuse,
                         langfuse_standin=not roles.langfuse,
                         mock=url("harness-mock", 8000), faults=faults_url, alerts=url("harness-alerts", 9000),
                         router=f"{url(roles.router, roles.router_port)}{roles.router_path}" if roles.router else "",
                         telegram=url("harness-telegram", 8081) if roles.bot else "", redis=redis, postgres=postgres,
                         direct_openai=f"http://127.0.0.1:{ports[(FAULTS, PROXY_PORTS['openai'])]}",
                         standins=["fault proxy: harness Toxiproxy-compatible server (2.12 API)"])

    def _ready(self, service: str, probe: Callable[[], bool]) -> None:
        def running() -> bool:
            ident = self.ids.get(service)
            if ident is None:
                return True
            state = subprocess.run(["docker", "inspect", "--format", "{{.State.Status}}", ident],
                                   capture_output=True, text=True, timeout=30).stdout.strip()
            return state in ("running", "restarting", "created")
        try:
            wait_until(probe, self.deadline, interval_s=0.25, alive=running)
        except (ChildProcessError, TimeoutError) as exc:
            reason = "exited" if isinstance(exc, ChildProcessError) else str(exc)
            raise MissingImage(f"service {service} did not become ready ({reason}); log "
                               f"{self._save_log(service)}") from None

    def _wait_all(self, at: Endpoints, ports: dict[tuple[str, int], int]) -> None:
        roles = self.spec.services
        for name in HARNESS_PORTS:
            if (name, HARNESS_PORTS[name]) in ports:
                self._ready(name, lambda n=name: http_ok(f"http://127.0.0.1:{ports[(n, HARNESS_PORTS[n])]}"
                                                         f"{health_path(n)}"))
        if roles.redis:
            self._ready(roles.redis, lambda: redis_ping(ports[(str(roles.redis), 6379)]))
        if roles.langfuse:
            self._ready(roles.langfuse, lambda: http_ok(f"{at.langfuse}/api/public/health"))
        self._ready(roles.gateway, lambda: http_ok(f"{at.gateway}/health/readiness"))
        if roles.router:
            self._ready(roles.router, lambda: _answers(at.router))
        if roles.bot:
            self._ready(roles.bot, lambda: bot_polling(at.telegram))
        for service in self.ids:  # the rest: running (their own healthchecks are compose's business)
            self._ready(service, lambda: True)

    def _save_log(self, service: str) -> Path:
        path = self.log_dir / f"{service}.log"
        ident = self.ids.get(service)
        if ident:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                result = subprocess.run(["docker", "logs", ident], capture_output=True, timeout=30)
                path.write_bytes(result.stdout + result.stderr)
        return path

    def stop(self) -> None:
        if self.compose is not None:
            for service in self.ids:
                self._save_log(service)
            self.compose.services = None
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                self.compose.stop(down=True)  # containers, networks and the project's volumes
            self.compose = None
        if self.supervisor is not None:
            self.supervisor.close()  # the reaper sweeps the project's label once more as it exits
            self.supervisor = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def _answers(url: str) -> bool:
    """The routing webhook answers at all (an empty body is a 4xx from a live router)."""
    try:
        return httpx.post(url, json={}, timeout=2.0).status_code < 500
    except httpx.HTTPError:
        return False


def _preflight() -> None:
    if shutil.which("docker") is None:
        raise MissingImage("no docker client: run `apt-get install -y docker.io` and start dockerd")
    if subprocess.run(["docker", "info"], capture_output=True).returncode:
        raise MissingImage("cannot reach the Docker daemon: start it (`dockerd &`, or systemctl start docker) "
                           "or set DOCKER_HOST")
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode:
        raise MissingImage("Docker Compose v2 (`docker compose`) is missing: run `make compose-ready` (installs the "
                           "hash-pinned plugin) or install docker-compose-plugin")


def _check_roles(spec: ComposeTarget, config: dict[str, Any]) -> None:
    known = sorted(config.get("services", {}))
    for role, name in spec.services.model_dump().items():
        if role.endswith(("_port", "_path")) or name is None:
            continue
        if name not in known:
            raise MissingImage(f"compose.services.{role}: no service {name!r} in {spec.files[0].name}; its services: "
                               f"{', '.join(known)}")


def _images(config: dict[str, Any], target: Target) -> dict[str, str]:
    """Each service's image as it will run (present here, or the one-line fix), and the harness's own."""
    harness = target.images.get("services") or IMAGES["services"].tag
    out: dict[str, str] = {}
    for name, body in sorted({**config.get("services", {}), "harness": {"image": harness}}.items()):
        image = body.get("image")
        if image is None:  # `build:` only: compose builds it
            out[name] = "built by compose"
            continue
        found = present(image)
        if found is None and not body.get("build"):
            local = next((spec.name for spec in IMAGES.values() if spec.tag == image), None)
            fix = f"`harness images build {local}`" if local else \
                f"`docker pull {image}` or `docker build -t {image} .`"
            raise MissingImage(f"service {name}: image {image} is not present and cannot be pulled here: run {fix}")
        origin = "built locally" if found and found["built_locally"] == "true" else "pulled"
        out[name] = f"{image} ({origin}, {found['id']})" if found else f"{image} (built by compose)"
    return out
