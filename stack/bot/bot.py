"""The chat bot (VPS plan slice 6): a Telegram message goes to the routing webhook, its answer comes back
as a reply. aiogram 3, long polling; `TELEGRAM_API_URL` points it at another Bot API server (aiogram's
documented `TelegramAPIServer`), which is how the harness runs this same code against its stand-in.

Unlike the plan's sketch it never blocks the event loop (aiohttp, not `requests`), answers every
message (an error reply when the router fails, not silence), and splits answers longer than
Telegram's 4,096 characters.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

import aiohttp
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

__all__ = ["TELEGRAM_LIMIT", "answer", "build"]

TELEGRAM_LIMIT = 4096
# Broken variants for the checks' negative controls (--fault)
FAULTS = {"swallow-errors": "logs a failed router call and sends nothing (the user hears silence)"}
_log = logging.getLogger("bot")


class RouterError(Exception):
    """The webhook failed; the message says how, for the log and the user."""


async def answer(http: aiohttp.ClientSession, router_url: str, task: str, timeout_s: float) -> str:
    """The routing webhook's answer to a task, or RouterError."""
    try:
        async with http.post(router_url, json={"task": task},
                             timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            body = await response.json(content_type=None)
    except TimeoutError:
        raise RouterError(f"no answer within {timeout_s:g} s") from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise RouterError(f"{type(exc).__name__}: {exc}") from None
    if response.status != 200 or not isinstance(body, dict) or not body.get("result"):
        detail = body.get("error") if isinstance(body, dict) else None
        raise RouterError(f"HTTP {response.status}: {detail or 'no result'}")
    return str(body["result"])


def build(router_url: str, timeout_s: float, faults: frozenset[str] = frozenset()) -> Dispatcher:
    dp = Dispatcher()

    @dp.message(F.text)
    async def handle(message: Message, http: aiohttp.ClientSession) -> None:
        text = message.text or ""
        task = text.split(maxsplit=1)[1] if text.startswith("/") and " " in text else text
        try:
            reply = await answer(http, router_url, task, timeout_s)
        except RouterError as exc:
            _log.warning("message %s: the router failed (%s)", message.message_id, exc)
            if "swallow-errors" in faults:
                return
            # the user learns that it failed and what to do; the details (hosts, codes) stay in the log
            reply = "Sorry, I could not get an answer right now: the model router is unavailable. " \
                    "Please try again in a minute."
        for start in range(0, len(reply), TELEGRAM_LIMIT):
            await message.reply(reply[start:start + TELEGRAM_LIMIT])

    return dp


async def _run(token: str, api_url: str | None, router_url: str, timeout_s: float, faults: frozenset[str]) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession()
    bot = Bot(token=token, session=session)
    async with aiohttp.ClientSession() as http:
        me = await bot.get_me()
        _log.info("polling as @%s; tasks go to %s", me.username, router_url)
        await build(router_url, timeout_s, faults).start_polling(bot, http=http, polling_timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--router", default=os.environ.get("ROUTER_URL", "http://127.0.0.1:5678/webhook/litellm-route"))
    parser.add_argument("--api", default=os.environ.get("TELEGRAM_API_URL"), help="Bot API server (default Telegram)")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("BOT_ROUTER_TIMEOUT_S", "45")),
                        help="seconds to wait for the router before replying with an error")
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS),
                        help="negative control: run a broken variant")
    args = parser.parse_args()
    token = os.environ.get("TELEGRAM_BOT_TOKEN")
    if not token:
        parser.error("set TELEGRAM_BOT_TOKEN (from @BotFather; the harness's stand-in accepts the one it was given)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s bot: %(message)s")
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)  # one INFO line per update otherwise
    asyncio.run(_run(token, args.api, args.router, args.timeout, frozenset(args.fault)))


if __name__ == "__main__":
    main()
