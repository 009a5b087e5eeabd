"""`python -m harness.standins.telegram --token T --port 0 --port-file F`: run the Bot API stand-in until stopped."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from aiohttp import web

from harness._ready import announce
from harness.standins.telegram.server import create_app


async def _serve(token: str, host: str, port: int, port_file: Path | None) -> None:
    runner = web.AppRunner(create_app(token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    announce(port_file)(bound)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.standins.telegram", description=__doc__)
    parser.add_argument("--token", default=os.environ.get("TELEGRAM_BOT_TOKEN"), help="the bot's token "
                        "(default: $TELEGRAM_BOT_TOKEN)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args()
    if not args.token:
        parser.error("--token or TELEGRAM_BOT_TOKEN is required (the token the bot will use)")
    asyncio.run(_serve(args.token, args.host, args.port, args.port_file))


if __name__ == "__main__":
    main()
