"""Spend counters: per team and UTC day (the Fly.io plan's daily_usd) and proxy-wide per UTC month
(the VPS plan's "max_budget $50/month, alert when > $40").

LiteLLM's own key budgets live in its Prisma database, which this stack does without, and its
proxy-wide `max_budget` is a counter in one worker's memory, lost on restart. This callback adds
each call's cost to Redis counters; `auth.py` refuses a team key past its day and every LLM call
past the month's cap; crossing the warning level posts one notification per month to
HARNESS_ALERT_WEBHOOK. If Redis is unreachable spend is not counted (fail open, like the cache):
CA-5 keeps the gateway serving, QT-3 and BUD-1 would then catch the overrun.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as redis
import yaml
from litellm.integrations.custom_logger import CustomLogger
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

_client: redis.Redis | None = None
_log = logging.getLogger("harness.budgets")


def _proxy_budget() -> dict[str, float]:
    """`proxy_budget: {monthly_usd, warning_usd}` from the keys file, or {} when none is set."""
    path = os.environ.get("HARNESS_TEAM_KEYS")
    if not path or not Path(path).exists():
        return {}
    budget = (yaml.safe_load(Path(path).read_text()) or {}).get("proxy_budget") or {}
    return {k: float(v) for k, v in budget.items() if k in ("monthly_usd", "warning_usd") and v is not None}


PROXY_BUDGET = _proxy_budget()


def client() -> redis.Redis:
    global _client
    if _client is None:
        # fail open fast: every LLM call reads this counter, so a hung or refusing Redis must cost one short
        # timeout, not redis-py's default of 3 retries with exponential backoff (~11 s with 1 s timeouts:
        # the gateway then took 14 s per request with the cache down, CA-5)
        _client = redis.Redis(host=os.environ.get("REDIS_HOST", "127.0.0.1"),
                              port=int(os.environ.get("REDIS_PORT", "6379")), socket_timeout=0.25,
                              socket_connect_timeout=0.25, retry=Retry(NoBackoff(), 0))
    return _client


def spend_key(team: str) -> str:
    return f"harness:spend:team:{team}:{datetime.now(UTC):%Y-%m-%d}"


def proxy_key() -> str:
    return f"harness:spend:proxy:{datetime.now(UTC):%Y-%m}"


async def _read(key: str) -> float:
    try:
        value = await client().get(key)
    except (redis.RedisError, OSError):
        return 0.0
    return float(value or 0.0)


async def spent_today(team: str) -> float:
    return await _read(spend_key(team))


async def spent_this_month() -> float:
    return await _read(proxy_key())


async def _warn(spent: float) -> None:
    """Once per month (a Redis flag), tell the webhook the proxy spend crossed its warning level."""
    warning, cap = PROXY_BUDGET.get("warning_usd"), PROXY_BUDGET.get("monthly_usd")
    if warning is None or spent < warning:
        return
    month = f"{datetime.now(UTC):%Y-%m}"
    if not await client().set(f"{proxy_key()}:warned", "1", nx=True, ex=40 * 86_400):
        return
    message = {"alert": "proxy_budget_warning", "month": month, "spent_usd": round(spent, 6),
               "warning_usd": warning, "monthly_usd": cap}
    _log.warning("proxy budget warning: %s", json.dumps(message))
    url = os.environ.get("HARNESS_ALERT_WEBHOOK")
    if url:
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                await http.post(url, json=message)
        except httpx.HTTPError as exc:
            _log.error("proxy budget warning not delivered to the webhook: %s", type(exc).__name__)


class DailySpend(CustomLogger):
    async def async_log_success_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any,
                                      end_time: Any) -> None:
        cost = kwargs.get("response_cost") or 0.0
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        team = metadata.get("user_api_key_team_id")
        if not cost:
            return
        try:
            if team:
                key = spend_key(team)
                await client().incrbyfloat(key, float(cost))
                await client().expire(key, 2 * 86_400)
            month = proxy_key()
            spent = float(await client().incrbyfloat(month, float(cost)))
            await client().expire(month, 40 * 86_400)
            await _warn(spent)
        except (redis.RedisError, OSError):
            pass


handler = DailySpend()
