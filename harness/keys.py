"""Team keys on a deployment with LiteLLM's database: minted through `/key/generate`, revoked after.

The embedded stack has no database (Prisma cannot run here), so its keys come from a keys file read
by the custom_auth hook; a target with `team_keys: virtual` gets real virtual keys instead, with the
plan's limits, and the results say which path was used.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from harness.stack import Stack
from harness.target import Team

__all__ = ["KeyProvisioningError", "generate_request", "provision", "revoke"]


class KeyProvisioningError(RuntimeError):
    """/key/generate refused or failed; the message carries LiteLLM's own error."""


def generate_request(team: Team) -> dict[str, Any]:
    """The body of POST /key/generate for a team (LiteLLM's GenerateKeyRequest fields only)."""
    body: dict[str, Any] = {"key_alias": team.alias or team.team, "team_id": team.team, "models": team.models,
                            "rpm_limit": team.rpm, "tpm_limit": team.tpm,
                            "metadata": {"created_by": "gateway-harness"}}
    if team.daily_usd is not None:
        body.update(max_budget=team.daily_usd, budget_duration="1d")
    return {k: v for k, v in body.items() if v is not None}


def provision(stack: Stack, teams: list[Team]) -> list[Team]:
    """Mints one virtual key per team with the master key; returns the teams with their new keys."""
    minted = []
    with stack.gateway() as client:
        for team in teams:
            response = client.post("/key/generate", json=generate_request(team))
            if response.status_code != 200:
                raise KeyProvisioningError(f"/key/generate for team {team.team}: HTTP {response.status_code} "
                                           f"{response.text[:200]}")
            minted.append(team.model_copy(update={"key": SecretStr(response.json()["key"])}))
    return minted


def revoke(stack: Stack, teams: list[Team]) -> None:
    keys = [team.secret() for team in teams if team.key is not None]
    if keys:
        with stack.gateway() as client:
            client.post("/key/delete", json={"keys": keys})
