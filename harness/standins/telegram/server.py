"""The Bot API stand-in: `/bot<token>/<method>` for getMe, getUpdates (long polling), sendMessage,
deleteWebhook, plus `/_control/*`: a user's message in, the bot's messages out.

Answers follow the Bot API: `{"ok": true, "result": ...}`, or `ok: false` with `error_code` and
`description` (401 for a wrong token, 400 for an empty or over-long text, 404 for other methods).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

__all__ = ["MAX_TEXT", "create_app"]

MAX_TEXT = 4096  # Telegram refuses longer messages: "Bad Request: message is too long"
BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Harness Bot", "username": "harness_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}


class _State:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.next_update = 1
        self.next_message = 1
        self.sent: list[dict[str, Any]] = []
        self.calls: dict[str, int] = {}
        self.last_poll = 0.0
        self.waiting = 0  # getUpdates calls held open right now
        self.arrived = asyncio.Condition()


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description}, status=code)


async def _params(request: web.Request) -> dict[str, Any]:
    """Bot API parameters arrive as query, JSON, urlencoded or multipart form; complex values as JSON text."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    for key, value in list(params.items()):
        if isinstance(value, str) and value[:1] in "{[":
            with contextlib.suppress(json.JSONDecodeError):
                params[key] = json.loads(value)
    return params


def _chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": "Harness", "username": "harness_user"}


def create_app(token: str) -> web.Application:
    state = _State()
    app = web.Application()

    async def method(request: web.Request) -> web.Response:
        if request.match_info["token"] != token:
            return _error(401, "Unauthorized")
        name = request.match_info["method"]
        state.calls[name] = state.calls.get(name, 0) + 1
        params = await _params(request)
        handler = _METHODS.get(name.lower())
        if handler is None:
            return _error(404, "Not Found: method not found")
        return await handler(params)

    async def get_me(params: dict[str, Any]) -> web.Response:
        return _ok(BOT_USER)

    async def delete_webhook(params: dict[str, Any]) -> web.Response:
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            state.updates.clear()
        return _ok(True)

    async def get_updates(params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        limit = min(int(params.get("limit") or 100), 100)
        timeout = min(float(params.get("timeout") or 0), 50.0)
        if offset:  # confirms every update below it, as Telegram does
            state.updates = [u for u in state.updates if u["update_id"] >= offset]
        state.last_poll = time.time()
        state.waiting += 1
        try:
            async with state.arrived:
                if not state.updates and timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(state.arrived.wait(), timeout)
        finally:
            state.waiting -= 1
        state.last_poll = time.time()
        return _ok(state.updates[:limit])

    async def send_message(params: dict[str, Any]) -> web.Response:
        text = str(params.get("text") or "")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, ValueError):
            return _error(400, "Bad Request: chat not found")
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        reply_to = reply_to or params.get("reply_to_message_id")
        message = {"message_id": state.next_message, "date": int(time.time()), "chat": _chat(chat_id),
                   "from": BOT_USER, "text": text}
        state.next_message += 1
        state.sent.append({**message, "reply_to": int(reply_to) if reply_to else None, "received_at": time.time()})
        return _ok(message)

    _METHODS = {"getme": get_me, "deletewebhook": delete_webhook, "getupdates": get_updates,
                "sendmessage": send_message}

    async def user_message(request: web.Request) -> web.Response:
        body = await request.json()
        chat_id, text = int(body.get("chat_id", 1001)), str(body["text"])
        message: dict[str, Any] = {"message_id": state.next_message, "date": int(time.time()), "chat": _chat(chat_id),
                                   "from": {"id": chat_id, "is_bot": False, "first_name": "Harness"}, "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        state.next_message += 1
        update = {"update_id": state.next_update, "message": message}
        state.next_update += 1
        state.updates.append(update)
        async with state.arrived:
            state.arrived.notify_all()
        return web.json_response({"update_id": update["update_id"], "message_id": message["message_id"],
                                  "sent_at": time.time()})

    async def sent(request: web.Request) -> web.Response:
        chat = request.query.get("chat_id")
        return web.json_response([m for m in state.sent if chat is None or str(m["chat"]["id"]) == chat])

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"calls": state.calls, "pending_updates": len(state.updates),
                                  "last_poll": state.last_poll, "waiting": state.waiting,
                                  "sent": len(state.sent)})

    app.router.add_route("*", "/bot{token}/{method}", method)
    app.router.add_post("/_control/messages", user_message)
    app.router.add_get("/_control/sent", sent)
    app.router.add_get("/_control/status", status)
    return app
