"""Fault injection on the network path: a Toxiproxy client, and a compatible server for machines without one."""

from harness.faults.client import Proxy, Toxic, Toxiproxy, ToxiproxyError

__all__ = ["Proxy", "Toxic", "Toxiproxy", "ToxiproxyError"]
