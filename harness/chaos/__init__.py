"""Chaos: scenarios as data (`scenarios/*.yaml`), fault injection, and the engine that judges them."""

from harness.chaos.chains import chains_configured, chains_to_test
from harness.chaos.engine import CaseRun, SteadyStateFailed, available, run_case
from harness.chaos.inject import FaultUnavailable
from harness.chaos.scenario import Case, Scenario, expand, load_scenarios

__all__ = ["Case", "CaseRun", "FaultUnavailable", "Scenario", "SteadyStateFailed", "available",
           "chains_configured", "chains_to_test", "expand", "load_scenarios", "run_case"]
