"""How a child service tells its parent the port it bound: a file written atomically."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def announce(port_file: Path | None) -> Callable[[int], None]:
    def ready(port: int) -> None:
        print(f"listening on 127.0.0.1:{port}", flush=True)
        if port_file is not None:
            tmp = port_file.with_suffix(".tmp")
            tmp.write_text(str(port))
            os.replace(tmp, port_file)

    return ready
