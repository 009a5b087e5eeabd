"""One Testcontainers class per service of the reference stack, each with its readiness wait.

Images default to the official names (`redis:7`, `postgres:15`, `ghcr.io/berriai/litellm:...`);
`harness images build` makes local equivalents under the same names where no registry is reachable.
"""

from __future__ import annotations

from pathlib import Path

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy, LogMessageWaitStrategy

__all__ = ["BotContainer", "FaultsContainer", "HarnessServiceContainer", "LiteLLMContainer", "PostgresContainer",
           "RedisContainer", "RouterContainer"]

PROXY_PORTS = {"openai": 18001, "anthropic": 18002, "gemini": 18003, "redis": 18004, "gateway": 18005,
               "router": 18006, "langfuse": 18007}
# where each fault proxy leads, by network alias
UPSTREAMS = {"openai": "mock:8000", "anthropic": "mock:8000", "gemini": "mock:8000", "redis": "redis:6379",
             "gateway": "litellm:4000", "router": "router:5678", "langfuse": "langfuse:3000"}


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
    """A harness service (`python -m harness.standins.<module>`) listening on `port` inside the network."""

    def __init__(self, image: str, module: str, port: int, health_path: str) -> None:
        super().__init__(image)
        self.port = port
        self.with_exposed_ports(port)
        self.with_command(["python", "-m", f"harness.standins.{module}", "--host", "0.0.0.0", "--port", str(port)])
        self.waiting_for(HttpWaitStrategy(port, health_path).with_startup_timeout(30))


class FaultsContainer(HarnessServiceContainer):
    """The Toxiproxy-compatible server; its proxies listen on fixed ports, published to the host too."""

    def __init__(self, image: str) -> None:
        super().__init__(image, "toxiproxy", 8474, "/version")
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


class RouterContainer(DockerContainer):
    """The routing webhook (stack/router), calling the gateway through the `gateway` fault proxy."""

    def __init__(self, image: str, master_key: str, timeout_s: float) -> None:
        super().__init__(image)
        self.with_exposed_ports(5678)
        self.with_env("LITELLM_MASTER_KEY", master_key)
        self.with_command(["python", "/src/stack/router/router.py", "--host", "0.0.0.0", "--port", "5678",
                           "--gateway", f"http://faults:{PROXY_PORTS['gateway']}", "--timeout", str(timeout_s)])
        self.waiting_for(HttpWaitStrategy(5678, "/health").with_startup_timeout(30))


class BotContainer(DockerContainer):
    """The chat bot (stack/bot), polling the Bot API stand-in, reaching the router through its fault proxy."""

    def __init__(self, image: str, token: str, timeout_s: float) -> None:
        super().__init__(image)
        self.with_env("TELEGRAM_BOT_TOKEN", token)
        self.with_command(["python", "/src/stack/bot/bot.py", "--api", "http://telegram:8081", "--router",
                           f"http://faults:{PROXY_PORTS['router']}/webhook/litellm-route", "--timeout",
                           str(timeout_s)])
        self.waiting_for(LogMessageWaitStrategy("polling as @").with_startup_timeout(30))
