"""A Toxiproxy-compatible server (the 2.12 HTTP API and toxics) for machines without `toxiproxy-server`."""

from harness.standins.toxiproxy.server import ToxiproxyServer, create_app

__all__ = ["ToxiproxyServer", "create_app"]
