"""The upgrade gate (`harness upgrade-check`): candidate LiteLLM releases installed from hashed locks, their
API checked against the gateway's hooks, the suites run on each and diffed against the pinned release."""

from harness.upgrade.candidate import DENIED, Candidate, CandidateError, installed, resolve_candidate
from harness.upgrade.gate import GateError, SuiteRun, Verdict, matrix, run_gate
from harness.upgrade.hooks import HookError, HookUse, hook_files, incompatibilities, uses

__all__ = ["DENIED", "Candidate", "CandidateError", "GateError", "HookError", "HookUse", "SuiteRun", "Verdict",
           "hook_files", "incompatibilities", "installed", "matrix", "resolve_candidate", "run_gate", "uses"]
