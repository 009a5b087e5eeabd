"""`python -m harness.standins.alerts --port 0 --port-file F`: run the notification sink until stopped."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness._http import serve
from harness._ready import announce
from harness.standins.alerts.sink import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.standins.alerts", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args()
    serve(create_app(), args.host, args.port, announce(args.port_file))


if __name__ == "__main__":
    main()
