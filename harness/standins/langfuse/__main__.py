"""`python -m harness.standins.langfuse --port 0 --port-file F`: run the Langfuse stand-in until stopped.

Keys come from LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY so they never appear in a process list.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from harness._http import serve
from harness._ready import announce
from harness.standins.langfuse.server import create_app
from harness.standins.langfuse.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.standins.langfuse", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--visibility-delay", type=float, default=0.0,
                        help="seconds before an ingested entity becomes readable (v3's worker takes ~5 s)")
    args = parser.parse_args()
    public, secret = os.environ.get("LANGFUSE_PUBLIC_KEY"), os.environ.get("LANGFUSE_SECRET_KEY")
    if not public or not secret:
        sys.exit("langfuse stand-in: set LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY in the environment")
    store = Store(visibility_delay_s=args.visibility_delay)
    serve(create_app(store, public, secret), args.host, args.port, announce(args.port_file))


if __name__ == "__main__":
    main()
