"""Per-team daily spend, for the team keys' USD limits (the Fly.io plan's daily_usd).

LiteLLM's own key budgets live in its Prisma database, which this stack does without: this
callback adds each call's cost to a Redis counter per team and UTC day, and `auth.py` refuses a
team key whose counter has reached its limit. If Redis is unreachable the spend is not counted
(fail open, like the cache): CA-5 keeps the gateway serving, QT-3 would then catch the overrun.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as redis
from litellm.integrations.custom_logger import CustomLogger

_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis(host=os.environ.get("REDIS_HOST", "127.0.0.1"),
                              port=int(os.environ.get("REDIS_PORT", "6379")), socket_timeout=1.0,
                              socket_connect_timeout=1.0)
    return _client


def spend_key(team: str) -> str:
    return f"harness:spend:team:{team}:{datetime.now(UTC):%Y-%m-%d}"


async def spent_today(team: str) -> float:
    try:
        value = await client().get(spend_key(team))
    except (redis.RedisError, OSError):
        return 0.0
    return float(value or 0.0)


class DailySpend(CustomLogger):
    async def async_log_success_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any,
                                      end_time: Any) -> None:
        cost = kwargs.get("response_cost") or 0.0
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        team = metadata.get("user_api_key_team_id")
        if not team or not cost:
            return
        try:
            key = spend_key(team)
            await client().incrbyfloat(key, float(cost))
            await client().expire(key, 2 * 86_400)
        except (redis.RedisError, OSError):
            pass


handler = DailySpend()
