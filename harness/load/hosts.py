"""Where load may go: loopback, or a host the target (or a worker's own `--allow-host`) names.

Imported by the harness and by every load generator process, so each worker enforces it again
against its own list: a master cannot point another machine's worker at a host it was not given.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

__all__ = ["LoadRefused", "check_host", "parse_address"]


class LoadRefused(RuntimeError):
    """The run would send load somewhere it must not (not loopback, not allow-listed)."""


def check_host(url: str, allow_hosts: Sequence[str] = (), *, where: str = "load.allow_hosts in the target") -> None:
    """Load goes to loopback, or to a host in `allow_hosts`; anything else is refused, naming `where` to add it."""
    host = urlsplit(url).hostname or ""
    if host in allow_hosts or host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise LoadRefused(f"refusing to send load to {host}: not loopback; add it to {where} "
                      "if this deployment is yours to load")


def parse_address(text: str, option: str) -> tuple[str, int]:
    """HOST:PORT (the master's address) as (host, port); ValueError naming `option` and the form."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{option} {text}: use HOST:PORT, e.g. 0.0.0.0:5557")
    return host, int(port)
