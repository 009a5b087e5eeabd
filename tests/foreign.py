"""Somebody else's gateway: a LiteLLM the harness does not start, with its own config, port and master key,
in front of a provider process the harness is not told about (LLMock, a third-party mock of the providers'
APIs), behind the operator's own fault proxies (a Toxiproxy API) and Langfuse. The harness only ever sees
the target file this writes: URLs, keys, the config, a logs folder and the fault proxies' API.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness._proc import Supervisor, free_port
from harness.faults import Toxiproxy
from harness.providers.processes import binary, http_ok, redis_ping
from harness.providers.wiring import find_litellm
from harness.target import REFERENCE_CONFIG, REPO

__all__ = ["ForeignGateway", "foreign_gateway", "their_config"]

# the operator's own model list: the plan's five models and an embedding model, their own deployments,
# priced as the plan's list prices say (USD per token)
_MODELS: list[tuple[str, str, str, tuple[float, float] | None]] = [
    ("gpt-4", "openai", "openai/gpt-4-turbo", None),
    ("claude-3", "anthropic", "anthropic/claude-3-5-sonnet-20241022", (3e-6, 15e-6)),
    ("gemini-2", "gemini", "gemini/gemini-2.0-flash-exp", (1e-7, 4e-7)),
    ("gpt-4o-mini", "openai", "openai/gpt-4o-mini", None),
    ("gpt-4o", "openai", "openai/gpt-4o", None),
]
_BASES = {"openai": "/v1", "anthropic": "/anthropic", "gemini": "/gemini/v1beta"}

# their key check: LiteLLM without its database answers a missing key with 500 and a wrong one with 400
# (GW-4 FAILs that, rightly); an operator without Prisma puts a custom_auth like this one in front
_THEIR_AUTH = """
import hmac
import os

from fastapi import Request
from litellm.proxy._types import ProxyErrorTypes, ProxyException, UserAPIKeyAuth


async def check(request: Request, api_key: str) -> UserAPIKeyAuth:
    if api_key and hmac.compare_digest(api_key, os.environ["THEIR_MASTER_KEY"]):
        return UserAPIKeyAuth(api_key=api_key)
    raise ProxyException(message="invalid key", type=ProxyErrorTypes.auth_error, param="api_key", code=401)
"""


def their_config(proxies: dict[str, str], redis_port: int, *, fallbacks: bool = True,
                 failures_traced: bool = True) -> dict[str, Any]:
    """A LiteLLM config as an operator writes it for the plans: each provider at its fault proxy."""
    model_list: list[dict[str, Any]] = []
    for name, provider, deployment, prices in _MODELS:
        params: dict[str, Any] = {"model": deployment, "api_base": f"http://{proxies[provider]}{_BASES[provider]}",
                                  "api_key": f"sk-their-{provider}-key"}
        if prices:
            params["input_cost_per_token"], params["output_cost_per_token"] = prices
        model_list.append({"model_name": name, "litellm_params": params})
    model_list.append({"model_name": "text-embedding-3-small", "model_info": {"mode": "embedding"},
                       "litellm_params": {"model": "openai/text-embedding-3-small",
                                          "api_base": f"http://{proxies['openai']}/v1", "api_key": "sk-their-key"}})
    router: dict[str, Any] = {"num_retries": 0, "timeout": 4, "stream_timeout": 4, "cooldown_time": 10}
    if fallbacks:
        router["fallbacks"] = [{"gpt-4": ["claude-3", "gemini-2"]}, {"claude-3": ["gpt-4", "gemini-2"]},
                               {"gemini-2": ["claude-3", "gpt-4"]}]
    return {"model_list": model_list, "router_settings": router,
            "litellm_settings": {"drop_params": True, "request_timeout": 4, "success_callback": ["langfuse"],
                                 "failure_callback": ["langfuse"] if failures_traced else [],
                                 # the Fly.io plan's escalation rule: their copy of a pre-call hook
                                 "callbacks": ["escalation.handler"], "cache": True,
                                 "cache_params": {"type": "redis", "ttl": 86400, "host": "127.0.0.1",
                                                  "port": redis_port}},
            "general_settings": {"master_key": "os.environ/THEIR_MASTER_KEY", "custom_auth": "their_auth.check"}}


@dataclass
class ForeignGateway:
    target_file: Path
    gateway_url: str
    master_key: str
    toxiproxy_url: str
    llmock_url: str
    config: Path


@contextmanager
def foreign_gateway(folder: Path, **config: Any) -> Iterator[ForeignGateway]:
    """Starts their stack (LLMock, fault proxies, Langfuse, Redis, LiteLLM); yields it with a target file."""
    llmock = shutil.which("llmock", path=str(Path(sys.executable).parent))
    assert llmock, "llmock is not installed: pip install -e '.[dev]'"
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    public, secret, master = f"pk-lf-{secrets.token_hex(6)}", f"sk-lf-{secrets.token_hex(12)}", \
        f"sk-theirs-{secrets.token_hex(12)}"
    sup = Supervisor(logs)
    try:
        mock_port, redis_port, gateway_port = free_port(), free_port(), free_port()
        provider = sup.start("llmock", [llmock, "serve", "--host", "127.0.0.1", "--port", str(mock_port),
                                        "--log-level", "warning"])
        ports = {"faults": folder / "faults.port", "langfuse": folder / "langfuse.port"}
        faults = sup.start("toxiproxy", [py, "-m", "harness.standins.toxiproxy", "--port", "0", "--port-file",
                                         str(ports["faults"])], cwd=REPO)
        langfuse = sup.start("langfuse", [py, "-m", "harness.standins.langfuse", "--port-file",
                                          str(ports["langfuse"])], cwd=REPO,
                             env={"LANGFUSE_PUBLIC_KEY": public, "LANGFUSE_SECRET_KEY": secret})
        redis = sup.start("redis", [binary("redis-server", "redis-server"), "--port", str(redis_port), "--bind",
                                    "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)])
        sup.ready(provider, lambda: http_ok(f"http://127.0.0.1:{mock_port}/health"), 30)
        for service, name in ((faults, "faults"), (langfuse, "langfuse")):
            sup.ready(service, ports[name].exists, 15)
        sup.ready(redis, lambda: redis_ping(redis_port), 15)
        faults_url = f"http://127.0.0.1:{ports['faults'].read_text()}"
        langfuse_url = f"http://127.0.0.1:{ports['langfuse'].read_text()}"
        proxies = {p.name: p.address for p in Toxiproxy(faults_url).populate(
            [{"name": name, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{mock_port}"}
             for name in ("openai", "anthropic", "gemini")])}
        config_dir = folder / "litellm"
        config_dir.mkdir(exist_ok=True)
        shutil.copy(REFERENCE_CONFIG.parent / "escalation.py", config_dir / "escalation.py")
        (config_dir / "their_auth.py").write_text(_THEIR_AUTH)
        config_file = config_dir / "config.yaml"
        config_file.write_text(yaml.safe_dump(their_config(proxies, redis_port, **config), sort_keys=False))
        gateway = sup.start("litellm", [str(find_litellm()), "--config", str(config_file), "--host", "127.0.0.1",
                                        "--port", str(gateway_port)], cwd=config_dir,
                            env={"THEIR_MASTER_KEY": master, "LANGFUSE_HOST": langfuse_url,
                                 "LANGFUSE_PUBLIC_KEY": public, "LANGFUSE_SECRET_KEY": secret,
                                 "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"})
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        sup.ready(gateway, lambda: http_ok(f"{gateway_url}/health/readiness"), 120)
        target = {"name": "their-gateway", "provider": "external", "litellm_config": str(config_file),
                  "gateway": {"url": gateway_url, "master_key": master},
                  "langfuse": {"url": langfuse_url, "public_key": public, "secret_key": secret},
                  "toxiproxy_url": faults_url, "logs_dir": str(logs)}
        target_file = folder / "target.yaml"
        target_file.write_text(yaml.safe_dump(target, sort_keys=False))
        target_file.chmod(0o600)
        yield ForeignGateway(target_file, gateway_url, master, faults_url, f"http://127.0.0.1:{mock_port}",
                             config_file)
    finally:
        sup.close()


def with_target(gateway: ForeignGateway, edit: Callable[[dict[str, Any]], None], path: Path) -> Path:
    """Their target file with `edit` applied, written to `path` (mode 0600)."""
    document = yaml.safe_load(gateway.target_file.read_text())
    edit(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)
    return path
