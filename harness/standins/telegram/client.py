"""Drives the stand-in as a Telegram user would: `send("hello")`, then `wait_reply(...)` for the bot's answer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["SentMessage", "TelegramControl"]


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent (sendMessage), with the stand-in's receive time."""

    message_id: int
    chat_id: int
    text: str
    reply_to: int | None
    received_at: float


class TelegramControl:
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def send(self, text: str, chat_id: int = 1001) -> dict[str, Any]:
        """A user's message to the bot; returns its update_id, message_id and the stand-in's sent_at."""
        response = self._http.post("/_control/messages", json={"chat_id": chat_id, "text": text})
        response.raise_for_status()
        return dict(response.json())

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        params = {"chat_id": chat_id} if chat_id is not None else {}
        return [SentMessage(m["message_id"], m["chat"]["id"], m["text"], m["reply_to"], m["received_at"])
                for m in self._http.get("/_control/sent", params=params).raise_for_status().json()]

    def wait_reply(self, message_id: int, chat_id: int = 1001, timeout_s: float = 10.0) -> list[SentMessage]:
        """The bot's messages replying to `message_id` (an answer may span several), or [] at the timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [m for m in self.sent(chat_id) if m.reply_to == message_id]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)

    def status(self) -> dict[str, Any]:
        return dict(self._http.get("/_control/status").raise_for_status().json())

    def polling(self, within_s: float = 5.0) -> bool:
        """True when a bot called getUpdates within the last `within_s` seconds (or is waiting in one)."""
        status = self.status()
        return status["waiting"] > 0 or time.time() - float(status["last_poll"]) < within_s

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TelegramControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
