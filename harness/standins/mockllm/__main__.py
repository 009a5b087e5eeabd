"""`python -m harness.standins.mockllm --port 0 --port-file F`: run the mock providers until stopped."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness._http import serve
from harness._ready import announce
from harness.standins.mockllm.server import create_app
from harness.standins.mockllm.state import MockState


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.standins.mockllm", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    serve(create_app(MockState(seed=args.seed)), args.host, args.port, announce(args.port_file))


if __name__ == "__main__":
    main()
