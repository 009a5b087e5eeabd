"""Mock LLM providers speaking the OpenAI, Anthropic and Gemini wire formats, with fault control."""

from harness.standins.mockllm.behaviour import Behaviour
from harness.standins.mockllm.client import MockControl
from harness.standins.mockllm.server import create_app

__all__ = ["Behaviour", "MockControl", "create_app"]
