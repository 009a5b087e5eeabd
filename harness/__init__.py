"""gateway-harness: verify a self-hosted LLM gateway stack against its plan's success criteria."""

from harness.criteria import CATALOGUE, Criterion
from harness.results import Outcome, Record, RunResults
from harness.stack import Stack
from harness.target import Target, TargetError, load_target

__all__ = ["CATALOGUE", "Criterion", "Outcome", "Record", "RunResults", "Stack", "Target", "TargetError",
           "load_target"]
__version__ = "0.1.0"
