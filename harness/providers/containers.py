"""The containers provider: the reference stack as Docker containers on one network per run.

Testcontainers starts each service (classes in `_containers.py`) and waits for it; LiteLLM reaches
every upstream through the fault server on the network, as the embedded stack does on loopback.
Cleanup is guaranteed by the harness's reaper (containers, network and volumes carry this run's
label), because Ryuk's image cannot be pulled where there is no registry.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from harness._proc import Supervisor
from harness.control import ContainerControl
from harness.faults import Toxiproxy
from harness.images import IMAGES, RUN_LABEL, MissingImage, describe, present
from harness.providers._containers import (
    PROXY_PORTS,
    UPSTREAMS,
    BotContainer,
    FaultsContainer,
    HarnessServiceContainer,
    LiteLLMContainer,
    PostgresContainer,
    RedisContainer,
    RouterContainer,
)
from harness.providers.base import Provider
from harness.providers.wiring import Endpoints, StackKeys, assemble, litellm_env, run_config, write_team_keys
from harness.stack import ServiceLogs, Stack
from harness.target import Target

__all__ = ["RUN_LABEL", "ContainersProvider"]

# Ryuk cannot be pulled without a registry; the reaper below does its job
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


class ContainersProvider(Provider):
    """Starts the stack for a Target in containers; `start()` returns the Stack, `stop()` removes it all."""

    def __init__(self, target: Target, run_dir: Path, *, gateway_workers: int = 1) -> None:
        if target.litellm_config is None:
            raise ValueError("the containers provider needs target.litellm_config")
        self.target = target
        self.config = target.litellm_config
        self.run_dir = run_dir
        self.log_dir = run_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_id = uuid.uuid4().hex[:12]
        self.label = f"{RUN_LABEL}={self.run_id}"
        self.tmp = Path(tempfile.mkdtemp(prefix="harness-containers-"))
        # a target's num_retries runs a copy of its config with that setting; the checks read the copy
        self.target = run_config(target, self.tmp)
        self.config = self.target.litellm_config or self.config
        self.supervisor: Supervisor | None = None
        self.network: Network | None = None
        self.containers: dict[str, DockerContainer] = {}
        self.gateway_workers = gateway_workers

    def _image(self, name: str) -> str:
        # `harness upgrade-check` runs a candidate release's image, whatever the target names
        chosen = os.environ.get("HARNESS_LITELLM_IMAGE") if name == "litellm" else None
        image = chosen or self.target.images.get(name) or IMAGES[name].tag
        if present(image) is None:
            raise MissingImage(f"image {image} ({name}) is not present and cannot be pulled here: run "
                               f"`harness images build` (or `docker pull {image}` where a registry is reachable)")
        return image

    def start(self) -> Stack:
        if shutil.which("docker") is None:
            raise MissingImage("no docker client: run `apt-get install -y docker.io` and start dockerd")
        daemon = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
        if daemon.returncode:
            raise MissingImage("cannot reach the Docker daemon: start it (`dockerd &`, or systemctl start docker) "
                               "or set DOCKER_HOST")
        images = {name: self._image(name) for name in ("services", "litellm", "redis", "postgres")}
        started = time.monotonic()
        self.supervisor = Supervisor(self.log_dir)
        self.supervisor.guard_docker(self.label)  # a killed harness leaves no container or network
        self.supervisor.guard_dir(self.tmp)
        try:
            return self._start(images, started)
        except BaseException:
            self.stop()
            raise

    def _run(self, name: str, container: DockerContainer, alias: str) -> DockerContainer:
        assert self.network is not None
        container.with_network(self.network).with_network_aliases(alias).with_name(f"harness-{self.run_id}-{name}")
        container.with_kwargs(labels={RUN_LABEL: self.run_id})
        self.containers[name] = container
        try:
            container.start()
        except Exception as exc:
            raise RuntimeError(f"container {name} ({container.image}) did not become ready: {exc}; "
                               f"log {self._save_log(name, container)}") from None
        return container

    def _url(self, name: str, port: int) -> str:
        container = self.containers[name]
        return f"http://{container.get_container_host_ip()}:{container.get_exposed_port(port)}"

    def _start(self, images: dict[str, str], started: float) -> Stack:
        self.network = Network(docker_network_kw={"labels": {RUN_LABEL: self.run_id}}).create()
        keys = StackKeys.new()
        services = images["services"]
        redis = self._run("redis", RedisContainer(images["redis"]), "redis")
        pg = self._run("postgres", PostgresContainer(images["postgres"]), "postgres")
        self._run("mockllm", HarnessServiceContainer(services, "mockllm", 8000, "/_control/health"), "mock")
        self._run("langfuse", HarnessServiceContainer(services, "langfuse", 3000, "/api/public/health")
                  .with_envs(LANGFUSE_PUBLIC_KEY=keys.langfuse_public, LANGFUSE_SECRET_KEY=keys.langfuse_secret),
                  "langfuse")
        self._run("alerts", HarnessServiceContainer(services, "alerts", 9000, "/health"), "alerts")
        self._run("telegram", HarnessServiceContainer(services, "telegram", 8081, "/_control/status")
                  .with_env("TELEGRAM_BOT_TOKEN", keys.telegram_token), "telegram")
        self._run("toxiproxy", FaultsContainer(services), "faults")
        faults_url = self._url("toxiproxy", 8474)
        # upstreams are network aliases, resolved per connection: the gateway and router may start later
        Toxiproxy(faults_url).populate(
            [{"name": name, "listen": f"0.0.0.0:{port}", "upstream": UPSTREAMS[name]}
             for name, port in PROXY_PORTS.items()])
        teams, budget, keys_file = write_team_keys(self.target, self.config, self.tmp)
        os.chmod(self.tmp, 0o755)
        os.chmod(keys_file, 0o644)  # read by the container's user; the folder is this run's and removed after
        env = litellm_env(keys, provider_hosts={name: f"faults:{PROXY_PORTS[name]}" for name in
                                                ("openai", "anthropic", "gemini")},
                          redis=("faults", PROXY_PORTS["redis"]),
                          langfuse_url=f"http://faults:{PROXY_PORTS['langfuse']}",
                          alerts_url="http://alerts:9000", teams_file=f"/app/keys/{keys_file.name}",
                          workers=self.gateway_workers)
        self._run("litellm", LiteLLMContainer(images["litellm"], self.config, keys_file).with_litellm_env(**env),
                  "litellm")
        self._run("router", RouterContainer(services, keys.master, self.target.router_timeout_s), "router")
        self._run("bot", BotContainer(services, keys.telegram_token, self.target.router_timeout_s + 5), "bot")
        at = Endpoints(gateway=self._url("litellm", 4000), langfuse=self._url("langfuse", 3000),
                       mock=self._url("mockllm", 8000), faults=faults_url, alerts=self._url("alerts", 9000),
                       router=f"{self._url('router', 5678)}/webhook/litellm-route",
                       telegram=self._url("telegram", 8081),
                       redis=f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0",
                       postgres=f"postgresql://harness@{pg.get_container_host_ip()}:{pg.get_exposed_port(5432)}/postgres",
                       direct_openai=self._url("toxiproxy", PROXY_PORTS["openai"]),
                       standins=["fault proxy: harness Toxiproxy-compatible server (2.12 API)"])
        versions = {f"image_{k}": v for k, v in describe().items() if k in images}
        logs = ServiceLogs(folder=self.log_dir,
                           containers={n: c.get_wrapped_container().id[:12] for n, c in self.containers.items()})
        stack = assemble(self.target, provider="containers", config=self.config, keys=keys, at=at, teams=teams,
                         budget=budget, versions=versions, startup_s={"total": round(time.monotonic() - started, 3)},
                         logs=logs)
        roles = {"gateway": "litellm", "router": "router", "bot": "bot", "redis": "redis", "postgres": "postgres"}
        stack.control = ContainerControl({role: self.containers[name].get_wrapped_container().id
                                          for role, name in roles.items()})
        # the gateway's process as this host sees it: load runs watch its CPU, memory and restarts (LD-5)
        gateway = self.containers["litellm"].get_wrapped_container()
        gateway.reload()
        if gateway.attrs["State"].get("Pid"):
            stack.pids["litellm"] = int(gateway.attrs["State"]["Pid"])
        return stack

    def _save_log(self, name: str, container: DockerContainer) -> Path:
        path = self.log_dir / f"{name}.log"
        # a container that never started has no log; the path still says where it would be
        with contextlib.suppress(Exception):
            wrapped = container.get_wrapped_container()
            if wrapped is not None:
                path.write_bytes(wrapped.logs(stdout=True, stderr=True))
        return path

    def stop(self) -> None:
        for name, container in reversed(list(self.containers.items())):
            self._save_log(name, container)
            with contextlib.suppress(Exception):  # already gone: the reaper's label sweep removes any rest
                container.stop()
        self.containers.clear()
        if self.network is not None:
            with contextlib.suppress(Exception):
                self.network.remove()
            self.network = None
        if self.supervisor is not None:
            self.supervisor.close()  # the reaper sweeps this run's label once more as it exits
            self.supervisor = None
        shutil.rmtree(self.tmp, ignore_errors=True)
