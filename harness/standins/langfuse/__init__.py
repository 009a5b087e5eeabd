"""The Langfuse stand-in: the v3 public API (ingestion, OTLP traces, model definitions, reads)."""

from harness.standins.langfuse.server import create_app
from harness.standins.langfuse.store import Store

__all__ = ["Store", "create_app"]
