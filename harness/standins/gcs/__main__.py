"""`python -m harness.standins.gcs --port 0 --port-file F [--fault NAME]`: the Cloud Storage stand-in, until
stopped."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from aiohttp import web

from harness._ready import announce
from harness.standins.gcs.server import FAULTS, create_app


async def _serve(host: str, port: int, port_file: Path | None, faults: frozenset[str]) -> None:
    runner = web.AppRunner(create_app(faults), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    announce(port_file)(runner.addresses[0][1])
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.standins.gcs", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS),
                        help="a broken variant, for negative controls: " +
                             "; ".join(f"{k}: {v}" for k, v in FAULTS.items()))
    args = parser.parse_args()
    asyncio.run(_serve(args.host, args.port, args.port_file, frozenset(args.fault)))


if __name__ == "__main__":
    main()
