"""Per-team cache isolation: every cached answer lives in its team's namespace.

Without it, LiteLLM's cache key is the request alone, so one team's answer to a prompt is served
to any other team that sends the same prompt. CA-4 checks that this hook is in place.
"""

from __future__ import annotations

from typing import Any

from litellm.integrations.custom_logger import CustomLogger


class TeamCacheNamespace(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> dict:
        team = getattr(user_api_key_dict, "team_id", None) or "admin"
        control = data.get("cache") if isinstance(data.get("cache"), dict) else {}
        data["cache"] = {**control, "namespace": f"team-{team}"}
        return data


handler = TeamCacheNamespace()
