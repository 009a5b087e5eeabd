"""Mock LLM providers speaking the OpenAI, Anthropic and Gemini wire formats, with fault control."""

from harness.mockllm.behaviour import Behaviour
from harness.mockllm.client import MockControl
from harness.mockllm.server import create_app

__all__ = ["Behaviour", "MockControl", "create_app"]
