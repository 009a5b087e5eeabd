"""Key check for the reference gateway, through LiteLLM's documented `general_settings.custom_auth`.

LiteLLM's own virtual keys need its Prisma database, which this stack does without; and without
it LiteLLM answers a missing key with 500 and a wrong one with 400. This hook answers 401, hands
each team key's limits (rpm, tpm) to LiteLLM's rate limiter, refuses a key past its daily USD limit
and any LLM call once the proxy's monthly budget is spent (spend counted by budgets.py), and a
model outside a key's `models` list with 403. Keys come from the file named by HARNESS_TEAM_KEYS.
"""

from __future__ import annotations

import hmac
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from fastapi import Request
from litellm.proxy._types import LitellmUserRoles, ProxyErrorTypes, ProxyException, UserAPIKeyAuth
from litellm.proxy.auth.route_checks import RouteChecks

# LiteLLM loads this file by path; its sibling budgets.py (the spend counter) is imported the same way
sys.path.insert(0, str(Path(__file__).resolve().parent))
import budgets


def _team_keys() -> dict[str, dict[str, Any]]:
    path = os.environ.get("HARNESS_TEAM_KEYS")
    if not path or not Path(path).exists():
        return {}
    data = yaml.safe_load(Path(path).read_text()) or {}
    return {str(entry["key"]): entry for entry in data.get("keys", [])}


_TEAMS = _team_keys()


def _denied(message: str) -> ProxyException:
    return ProxyException(message=message, type=ProxyErrorTypes.auth_error, param="api_key", code=401)


async def _requested_model(request: Request) -> str | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body.get("model") if isinstance(body, dict) else None


async def _within_proxy_budget(request: Request) -> None:
    """Refuses an LLM call once this month's proxy-wide spend has reached the cap; admin routes stay open."""
    cap = budgets.PROXY_BUDGET.get("monthly_usd")
    if cap is None or not RouteChecks.is_llm_api_route(request.url.path):
        return
    spent = await budgets.spent_this_month()
    if spent >= cap:
        raise ProxyException(message=f"Budget has been exceeded: the proxy spent ${spent:.4f} of its monthly "
                                     f"${cap:.4f}", type=ProxyErrorTypes.budget_exceeded, param="max_budget",
                             code=400)


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    if not api_key:
        raise _denied("Authentication Error: no API key passed in")
    master = os.environ.get("LITELLM_MASTER_KEY", "")
    if master and hmac.compare_digest(api_key.encode(), master.encode()):
        await _within_proxy_budget(request)
        return UserAPIKeyAuth(api_key=api_key, user_role=LitellmUserRoles.PROXY_ADMIN)
    for key, team in _TEAMS.items():
        if hmac.compare_digest(api_key.encode(), key.encode()):
            await _within_proxy_budget(request)
            daily = team.get("daily_usd")
            if daily:
                spent = await budgets.spent_today(str(team.get("team")))
                if spent >= float(daily):
                    raise ProxyException(message=f"Budget has been exceeded: team {team.get('team')} spent "
                                                 f"${spent:.4f} of its ${float(daily):.4f} for today",
                                         type=ProxyErrorTypes.budget_exceeded, param="daily_usd", code=400)
            allowed = team.get("models") or []
            model = await _requested_model(request) if allowed else None
            if allowed and model is not None and model not in allowed:
                raise ProxyException(message=f"key {team.get('alias')} may not call {model}; allowed: {allowed}",
                                     type=ProxyErrorTypes.key_model_access_denied, param="model", code=403)
            return UserAPIKeyAuth(api_key=api_key, team_id=team.get("team"), key_alias=team.get("alias"),
                                  rpm_limit=team.get("rpm"), tpm_limit=team.get("tpm"), models=allowed)
    raise _denied("Authentication Error: invalid API key")
