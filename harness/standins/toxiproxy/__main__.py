"""`python -m harness.standins.toxiproxy`: a Toxiproxy-compatible server (`toxiproxy-server` flags), until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path

from harness._http import new_event_loop, serve_app_async
from harness._ready import announce
from harness.standins.toxiproxy.server import ToxiproxyServer, create_app


async def _main(args: argparse.Namespace) -> None:
    server = ToxiproxyServer(seed=args.seed)
    if args.config:
        # like toxiproxy-server -config: a populate array loaded before the API listens; errors only logged
        for item in json.loads(Path(args.config).read_text()):
            try:
                name, listen, upstream, enabled = server._parse_proxy(item)
                await server._new_proxy(name, listen, upstream, enabled)
            except Exception as exc:
                print(f"config: {item.get('name')}: {exc}", file=sys.stderr)
    try:
        await serve_app_async(create_app(server), args.host, args.port, announce(args.port_file))
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.standins.toxiproxy", description=__doc__)
    parser.add_argument("-host", "--host", default="127.0.0.1")
    parser.add_argument("-port", "--port", type=int, default=8474)
    parser.add_argument("-config", "--config", help="JSON array of proxies to create at start")
    parser.add_argument("-seed", "--seed", type=int, default=None)
    parser.add_argument("--port-file", type=Path, help="write the bound API port here once listening")
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=new_event_loop) as runner, contextlib.suppress(KeyboardInterrupt):
        runner.run(_main(args))


if __name__ == "__main__":
    main()
