"""A lying gateway: looks healthy from a distance and is broken in every way a check exists to catch.

It answers every chat call 200, fast, with the same text, and no gateway signal at all (no cache key, no
cost, no model group); it ignores keys and limits, sends nothing to Langfuse, lists one model too few,
is not ready, cannot stream, gives one model a 500 and usage that does not add up, cuts long inputs
before "the provider", and leaks its master key into its log. Where it also plays the provider log
(`mock_url`), that log tells the truth about what it forwarded. A check that PASSes against it, with any
capability taken away, decided without the evidence that makes its verdict mean something.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from harness._http import App, Request, Response, json_response
from harness.capabilities import Capability
from harness.stack import Stack
from harness.standins.langfuse import Store
from harness.standins.langfuse import create_app as langfuse_app
from harness.target import REFERENCE_CONFIG, Endpoint, LangfuseTarget, Target, read_teams

__all__ = ["CUT_AT", "MASTER", "lying_gateway", "lying_stacks"]

MASTER = "sk-liar-master-0123456789abcdef"
CUT_AT = 2000  # characters of a message that reach "the provider"
_FAILING_MODEL = "gpt-4o"  # answers 500 (MOD-1), used by no other check's first call


def lying_gateway(models: list[str]) -> App:
    app, log = App(), []

    @app.route("GET", "/health/readiness")
    async def readiness(request: Request) -> Response:
        return json_response({"status": "unhealthy"}, 503)

    @app.route("GET", "/v1/models")
    async def catalogue(request: Request) -> Response:
        return json_response({"data": [{"id": m, "object": "model"} for m in models[:-1]]})

    @app.route("POST", "/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = request.json()
        model = str(body.get("model"))
        messages = [{**m, "content": str(m.get("content", ""))[:CUT_AT]} for m in body.get("messages") or []]
        log.append({"seq": len(log) + 1, "ts": time.time(), "model": model, "status": 200,
                    "body": json.dumps({**body, "messages": messages}), "prompt_chars": sum(
                        len(m["content"]) for m in messages), "headers": {}, "stream": bool(body.get("stream"))})
        if model == _FAILING_MODEL:
            return json_response({"error": {"message": "internal error"}}, 500)
        return json_response({"id": "chatcmpl-liar", "object": "chat.completion", "model": model, "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "The same answer."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 99}})

    @app.route("POST", "/login")
    async def login(request: Request) -> Response:
        return json_response({"ok": True})

    @app.route("GET", "/_control/requests")
    async def requests(request: Request) -> Response:
        since = int(request.query.get("since", 0))
        return json_response({"data": [e for e in log if e["seq"] > since], "last_seq": len(log)})

    @app.route("PUT", "/_control/behaviour/{key}")
    async def behave(request: Request) -> Response:
        return json_response({})  # a liar takes instructions and ignores them

    @app.route("DELETE", "/_control/behaviour/{key}")
    async def reset(request: Request) -> Response:
        return json_response({})

    return app


def lying_stacks(serve: Callable[[App], str], folder: Path, redis_url: str) -> dict[str, Stack]:
    """The lying gateway as a stack with every capability it can give (provider log, Langfuse, Redis, team
    keys, service logs), and the same with each of them taken away in turn, by the name of what is missing."""
    # waits bounded: the liar never becomes ready and never traces, so the checks' full waits say nothing more
    base = Target.embedded().model_copy(update={"thresholds": {"OBS-1": 1.0, "GW-1": 1.0}})
    url = serve(lying_gateway([m.name for m in base.models]))
    public, secret = "pk-lf-liar", "sk-lf-liar-0123456789"
    langfuse = serve(langfuse_app(Store(), public, secret))
    teams = read_teams(REFERENCE_CONFIG.parent / "teams.yaml", {
        name: f"sk-team-liar-{name.lower()}" for name in ("PROD_CUSTOMER_KEY", "PROD_CEO_KEY", "PROD_BACKGROUND_KEY",
                                                          "ADMIN_KEY", "SCOPED_KEY", "QA_KEY")})
    scale = base.quota_scale  # as the embedded stack scales its keys file
    teams = [t.model_copy(update={"rpm": max(1, round((t.rpm or 1) * scale)),
                                  "tpm": max(1, round((t.tpm or 1) * scale)),
                                  "daily_usd": round((t.daily_usd or 1) * scale, 4)}) for t in teams]
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "litellm.log").write_text(f"INFO: started with master key {MASTER}\n")
    fields: dict[Capability, dict[str, Any]] = {
        Capability.PROVIDER_CONTROL: {"mock_url": url},
        Capability.LANGFUSE: {"langfuse": LangfuseTarget(url=langfuse, public_key=public,
                                                         secret_key=SecretStr(secret))},
        Capability.REDIS: {"redis_url": SecretStr(redis_url)},
        Capability.TEAM_KEYS: {"teams": teams},
        Capability.SERVICE_LOGS: {"logs_dir": logs},
    }
    bare = base.model_copy(update={"provider": "external", "mock_url": None, "langfuse": None, "redis_url": None,
                                   "teams": [], "gateway": Endpoint(url=url, master_key=SecretStr(MASTER))})

    def stack(without: Capability | None) -> Stack:
        update: dict[str, Any] = {}
        for cap, values in fields.items():
            if cap is not without:
                update.update(values)
        return Stack.over(bare.model_copy(update=update))

    stacks = {"nothing missing": stack(None)}
    stacks.update({f"without {cap.value}": stack(cap) for cap in fields})
    return stacks
