"""The Fly.io plan's escalation rule as a LiteLLM pre-call hook: long inputs go to the bigger model.

"Default: gpt-4o-mini. Escalate to gpt-4o if input_tokens > 2000." Tokens are counted with
LiteLLM's own tokenizer for the default model, so the rule and the bill agree.
"""

from __future__ import annotations

import os
from typing import Any

import litellm
from litellm.integrations.custom_logger import CustomLogger

DEFAULT_MODEL = os.environ.get("HARNESS_ESCALATE_FROM", "gpt-4o-mini")
BIGGER_MODEL = os.environ.get("HARNESS_ESCALATE_TO", "gpt-4o")
ABOVE_TOKENS = int(os.environ.get("HARNESS_ESCALATE_ABOVE_TOKENS", "2000"))


class Escalation(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> dict:
        if data.get("model") != DEFAULT_MODEL or not data.get("messages"):
            return data
        tokens = litellm.token_counter(model="gpt-4o-mini", messages=data["messages"])
        if tokens > ABOVE_TOKENS:
            data["model"] = BIGGER_MODEL
            metadata = data.setdefault("metadata", {})
            if isinstance(metadata, dict):
                metadata["escalated_from"] = DEFAULT_MODEL
                metadata["escalation_input_tokens"] = tokens
        return data


handler = Escalation()
