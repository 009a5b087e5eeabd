"""The gateway's hooks against a candidate's API: the stack's own hooks fit the pinned release; a candidate
whose CustomLogger lost async_pre_call_hook, or lost a symbol a hook imports, is named hook by hook."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.providers.wiring import find_litellm
from harness.target import REFERENCE_CONFIG, REPO
from harness.upgrade.hooks import HookUse, Override, hook_files, incompatibilities, probe, uses
from tests.upgrade.overlay import overlay_venv, rename_pre_call_hook


@pytest.fixture(scope="module")
def stack_hooks() -> list[HookUse]:
    return [use for path in hook_files(REFERENCE_CONFIG) for use in uses(path)]


@pytest.fixture(scope="module")
def pinned_answers(stack_hooks: list[HookUse]) -> list[dict]:
    return probe(find_litellm().parent / "python", stack_hooks)


def test_the_stack_hooks_symbols_are_read_from_their_source(stack_hooks: list[HookUse]) -> None:
    symbols = {(u.hook.name, u.symbol) for u in stack_hooks}
    assert ("escalation.py", "litellm.token_counter") in symbols
    assert ("auth.py", "litellm.proxy._types.UserAPIKeyAuth") in symbols
    logger = next(u for u in stack_hooks if u.hook.name == "tenancy.py" and u.name == "CustomLogger")
    assert [o.name for o in logger.overrides] == ["async_pre_call_hook"]
    assert logger.overrides[0].params == ("user_api_key_dict", "cache", "data", "call_type")


def test_the_pinned_release_has_everything_the_hooks_use(stack_hooks: list[HookUse],
                                                        pinned_answers: list[dict]) -> None:
    assert all(a["found"] for a in pinned_answers), [a["error"] for a in pinned_answers if not a["found"]]
    assert incompatibilities(stack_hooks, pinned_answers, pinned_answers, "same", REPO) == []


def test_a_renamed_base_method_names_each_hook_that_overrides_it(tmp_path: Path, stack_hooks: list[HookUse],
                                                                pinned_answers: list[dict]) -> None:
    binary = overlay_venv(tmp_path / "renamed", rename_pre_call_hook)
    lines = incompatibilities(stack_hooks, pinned_answers, probe(binary.parent / "python", stack_hooks), "9.9.9",
                              REPO)
    assert sorted(line.split(":")[0] for line in lines) == ["hook stack/litellm/escalation.py",
                                                           "hook stack/litellm/tenancy.py"]
    assert all("CustomLogger.async_pre_call_hook, which litellm 9.9.9 no longer has" in line for line in lines)


def test_a_missing_symbol_and_a_new_parameter_are_incompatible(tmp_path: Path) -> None:
    use = HookUse(tmp_path / "h.py", 3, "litellm", "token_counter")
    sub = HookUse(tmp_path / "h.py", 5, "litellm.integrations.custom_logger", "CustomLogger",
                  (Override("async_pre_call_hook", ("user_api_key_dict", "cache", "data", "call_type"), False),))
    before = [{"found": True, "error": "", "methods": {}},
              {"found": True, "error": "", "methods": {"async_pre_call_hook": {
                  "params": ["user_api_key_dict", "cache", "data", "call_type"], "var_kw": False}}}]
    after = [{"found": False, "error": "ImportError: gone", "methods": {}},
             {"found": True, "error": "", "methods": {"async_pre_call_hook": {
                 "params": ["user_api_key_dict", "cache", "data", "call_type", "request"], "var_kw": False}}}]
    lines = incompatibilities([use, sub], before, after, "2.0.0", tmp_path)
    assert lines == ["hook h.py:3 uses litellm.token_counter, which litellm 2.0.0 does not have (ImportError: gone)",
                     "hook h.py:5: CustomLogger.async_pre_call_hook in litellm 2.0.0 passes request, which the "
                     "hook's override does not accept"]
    tolerant = HookUse(sub.hook, 5, sub.module, sub.name, (Override("async_pre_call_hook", ("data",), True),))
    assert incompatibilities([tolerant], before[1:], after[1:], "2.0.0", tmp_path) == []
