"""The sink's HTTP app: `POST /hooks/{channel}` records any JSON body; `GET /notifications` lists them.

Alertmanager's webhook and the reference stack's budget hook both POST JSON; the sink stores what
arrived and when (epoch seconds), so a check can tell an alert that fired late from one never sent.
"""

from __future__ import annotations

import json
import time
from typing import Any

from harness._http import App, Request, Response, json_response

__all__ = ["create_app"]

_MAX_KEPT = 10_000


def create_app() -> App:
    app = App()
    received: list[dict[str, Any]] = []

    @app.route("POST", "/hooks/{channel}")
    async def record(request: Request) -> Response:
        try:
            body = request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return json_response({"error": "body must be JSON"}, 400)
        if len(received) >= _MAX_KEPT:
            del received[0]
        received.append({"channel": request.params["channel"], "received_at": time.time(), "body": body})
        return json_response({"ok": True})

    @app.route("GET", "/notifications")
    async def listing(request: Request) -> Response:
        channel = request.query.get("channel")
        return json_response([n for n in received if channel is None or n["channel"] == channel])

    @app.route("DELETE", "/notifications")
    async def clear(request: Request) -> Response:
        received.clear()
        return json_response({"ok": True})

    @app.route("GET", "/health")
    async def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    return app
