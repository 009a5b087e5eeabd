"""What the harness reads from the gateway's LiteLLM config besides its models and chains: how often it
retries a deployment group, and how it sends traces to Langfuse."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from harness.target import read_yaml

__all__ = ["LITELLM_DEFAULT_RETRIES", "langfuse_transport", "read_retries"]

# LiteLLM's Router without num_retries anywhere in its config retries openai.DEFAULT_MAX_RETRIES times
LITELLM_DEFAULT_RETRIES = 2


def read_retries(path: Path) -> tuple[int, str]:
    """The gateway's retries per deployment group from its config, and where the value came from."""
    config = read_yaml(path)
    for section in ("router_settings", "litellm_settings"):
        value = (config.get(section) or {}).get("num_retries")
        if value is not None:
            return int(value), f"{section}.num_retries"
    return LITELLM_DEFAULT_RETRIES, "LiteLLM's default (no num_retries in the config)"


def langfuse_transport(path: Path) -> Literal["ingestion", "otlp"] | None:
    """How a LiteLLM config sends traces to Langfuse: its `langfuse` callback (the ingestion API),
    `langfuse_otel` (OTLP to `/api/public/otel`), or neither."""
    settings = read_yaml(path).get("litellm_settings") or {}
    names = {str(n) for key in ("callbacks", "success_callback", "failure_callback")
             for n in (settings.get(key) or []) if isinstance(settings.get(key), list)}
    return "otlp" if "langfuse_otel" in names else "ingestion" if "langfuse" in names else None
