"""A stand-in for the Telegram Bot API (the methods a polling bot uses), with a control API for tests.

Bots reach it through their library's documented custom API server setting (aiogram:
`TelegramAPIServer.from_base(url)`), so the bot's code is the one that would talk to Telegram.
"""

import secrets

from harness.standins.telegram.client import SentMessage, TelegramControl

__all__ = ["SentMessage", "TelegramControl", "new_token"]


def new_token() -> str:
    """A bot token of Telegram's shape (`<bot id>:<secret>`, which aiogram checks), fresh per stack."""
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)}"
