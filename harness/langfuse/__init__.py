"""Langfuse: a public-API client for the checks, and a stand-in server where no real one runs."""

from harness.langfuse.client import LangfuseClient, TraceWait

__all__ = ["LangfuseClient", "TraceWait"]
