"""The routing webhook (VPS plan slice 4): `POST /webhook/litellm-route {"task": ...}` picks a model by the
plan's rules, calls the gateway, and answers `{"result", "route", "reason", "model", "call_id"}`.

The rules are the plan's Function node, in its order: a keyword ("reason", "analyze", "explain",
"complex") -> gpt-4; else over 50,000 characters -> claude-3; else gemini-2. `litellm-router.json` is
the same workflow for n8n. Failures of the gateway answer 502/504 with an `error` naming the cause,
within `--timeout`, never a hang; a body without a task gets 400.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["KEYWORDS", "LONG_CONTEXT_CHARS", "create_app", "route"]

KEYWORDS = ("reason", "analyze", "explain", "complex")
LONG_CONTEXT_CHARS = 50_000
PATH = "/webhook/litellm-route"
# Broken variants for the checks' negative controls (--fault)
FAULTS = {"no-keyword-rule": "routes without the keyword rule (everything short goes to gemini-2)",
          "error-log": "logs every routed task at ERROR level (a noisy service the log scan must catch)",
          "no-reason": "answers the route without saying why (an empty reason)"}
_log = logging.getLogger("router")


def route(task: str, faults: frozenset[str] = frozenset()) -> tuple[str, str]:
    """The model for a task and why (the plan's Function node)."""
    if "no-keyword-rule" not in faults and any(k in task.lower() for k in KEYWORDS):
        model, reason = "gpt-4", "Complex reasoning"
    elif len(task) > LONG_CONTEXT_CHARS:
        model, reason = "claude-3", "Long context"
    else:
        model, reason = "gemini-2", "Simple/fast"
    return model, "" if "no-reason" in faults else reason


def _fail(status: int, error: str, **extra: Any) -> web.Response:
    return web.json_response({"error": error, **extra}, status=status)


def create_app(gateway_url: str, key: str, timeout_s: float = 30.0, faults: frozenset[str] = frozenset()
               ) -> web.Application:
    app = web.Application(client_max_size=16 * 1024 * 1024)

    async def start(app: web.Application) -> None:
        app["http"] = aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"})

    async def stop(app: web.Application) -> None:
        await app["http"].close()

    async def handle(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _fail(400, 'the body must be JSON: {"task": "..."}')
        task = body.get("task") if isinstance(body, dict) else None
        if not isinstance(task, str) or not task.strip():
            return _fail(400, 'no task: send {"task": "<text>"}')
        model, reason = route(task, faults)
        if "error-log" in faults:
            _log.error("routing %d characters to %s", len(task), model)
        started = time.monotonic()
        call = {"model": model, "messages": [{"role": "user", "content": task}],
                "metadata": {"trace_name": "litellm-route", "tags": ["router", model]}}
        try:
            async with request.app["http"].post(f"{gateway_url}/chat/completions", json=call,
                                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                data = await response.json(content_type=None)
                call_id = response.headers.get("x-litellm-call-id")
                if response.status != 200:
                    message = (data.get("error") or {}).get("message") if isinstance(data, dict) else None
                    _log.warning("gateway answered HTTP %s for route %s", response.status, model)
                    return _fail(502, f"the gateway answered HTTP {response.status}: {str(message)[:300]}",
                                 route=model, reason=reason, call_id=call_id)
        except TimeoutError:
            _log.warning("gateway did not answer within %.0f s (route %s)", timeout_s, model)
            return _fail(504, f"the gateway did not answer within {timeout_s:g} s", route=model, reason=reason)
        except (aiohttp.ClientError, ValueError) as exc:
            _log.warning("gateway unreachable (route %s): %s", model, exc)
            return _fail(502, f"the gateway is unreachable: {type(exc).__name__}: {str(exc)[:200]}", route=model,
                         reason=reason)
        return web.json_response({"result": data["choices"][0]["message"]["content"], "route": model,
                                  "reason": reason, "model": data.get("model"), "call_id": call_id,
                                  "latency_ms": round((time.monotonic() - started) * 1000, 1)})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post(PATH, handle)
    app.router.add_get("/health", health)
    return app


async def _serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    _log.info("routing webhook on http://%s:%s%s", host, runner.addresses[0][1], PATH)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:4000"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("ROUTER_PORT", "5678")))
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("ROUTER_TIMEOUT_S", "30")),
                        help="seconds to wait for the gateway before answering 504")
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS),
                        help="negative control: run a broken variant")
    args = parser.parse_args()
    key = os.environ.get("LITELLM_MASTER_KEY") or os.environ.get("ROUTER_GATEWAY_KEY")
    if not key:
        parser.error("set LITELLM_MASTER_KEY (or ROUTER_GATEWAY_KEY): the key the router calls the gateway with")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s router: %(message)s")
    asyncio.run(_serve(create_app(args.gateway.rstrip("/"), key, args.timeout, frozenset(args.fault)), args.host,
                       args.port))


if __name__ == "__main__":
    main()
