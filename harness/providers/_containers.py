"""One Testcontainers class per service of the reference stack, each with its readiness wait.

Images default to the official names (`redis:7`, `postgres:15`, `ghcr.io/berriai/litellm:...`);
`harness images build` makes local equivalents under the same names where no registry is reachable.
"""

from __future__ import annotations

from pathlib import Path

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy, LogMessageWaitStrategy

__all__ = ["FaultsContainer", "HarnessServiceContainer", "LiteLLMContainer", "PostgresContainer",
           "RedisContainer"]

PROXY_PORTS = {"openai": 18001, "anthropic": 18002, "gemini": 18003, "redis": 18004}


class RedisContainer(DockerContainer):
    def __init__(self, image: str = "redis:7") -> None:
        super().__init__(image)
        self.with_exposed_ports(6379)
        self.with_command(["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"])
        self.waiting_for(LogMessageWaitStrategy("Ready to accept connections").with_startup_timeout(30))


class PostgresContainer(DockerContainer):
    def __init__(self, image: str = "postgres:15", user: str = "harness") -> None:
        super().__init__(image)
        self.user = user
        self.with_exposed_ports(5432)
        self.with_envs(POSTGRES_USER=user, POSTGRES_HOST_AUTH_METHOD="trust", POSTGRES_DB="postgres")
        self.waiting_for(LogMessageWaitStrategy("database system is ready to accept connections")
                         .with_startup_timeout(60))


class HarnessServiceContainer(DockerContainer):
    """A harness service (`python -m harness.<module>`) listening on `port` inside the network."""

    def __init__(self, image: str, module: str, port: int, health_path: str) -> None:
        super().__init__(image)
        self.port = port
        self.with_exposed_ports(port)
        self.with_command(["python", "-m", f"harness.{module}", "--host", "0.0.0.0", "--port", str(port)])
        self.waiting_for(HttpWaitStrategy(port, health_path).with_startup_timeout(30))


class FaultsContainer(HarnessServiceContainer):
    """The Toxiproxy-compatible server; its proxies listen on fixed ports, published to the host too."""

    def __init__(self, image: str) -> None:
        super().__init__(image, "faults", 8474, "/version")
        self.with_exposed_ports(*PROXY_PORTS.values())


class LiteLLMContainer(DockerContainer):
    """LiteLLM with the reference config directory mounted read-only and the keys file beside it."""

    def __init__(self, image: str, config: Path, keys_file: Path) -> None:
        super().__init__(image)
        self.with_exposed_ports(4000)
        self.with_volume_mapping(str(config.parent.resolve()), "/app/config", "ro")
        self.with_volume_mapping(str(keys_file.parent.resolve()), "/app/keys", "ro")
        self.with_env("HARNESS_TEAM_KEYS", f"/app/keys/{keys_file.name}")
        self.with_command(["--config", f"/app/config/{config.name}", "--host", "0.0.0.0", "--port", "4000"])
        self.waiting_for(HttpWaitStrategy(4000, "/health/readiness").with_startup_timeout(180))

    def with_litellm_env(self, **variables: str) -> LiteLLMContainer:
        self.with_envs(**variables)
        return self
