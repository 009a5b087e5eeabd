"""The gateway's hooks (custom auth, callbacks) against a candidate LiteLLM's API, before anything runs.

Each hook file next to the LiteLLM config is read (never imported by the harness): the litellm symbols it
imports or reaches by attribute, and the methods its subclasses of litellm classes override. The candidate's
own python then says which of those it has and what the base methods take (`_probe.py`). A symbol the pinned
release has and the candidate lacks, a base method that is gone (the hook would silently never be called),
or a base method that now passes a parameter the override does not accept, is an incompatibility.
"""

from __future__ import annotations

import ast
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["HookError", "HookUse", "hook_files", "incompatibilities", "probe", "uses"]

_PROBE = Path(__file__).with_name("_probe.py")


class HookError(RuntimeError):
    """The probe itself could not run in a venv (not a finding about a hook)."""


@dataclass(frozen=True)
class Override:
    name: str
    params: tuple[str, ...]
    var_kw: bool


@dataclass(frozen=True)
class HookUse:
    """One litellm symbol a hook file uses, where, and what its subclasses of it override."""

    hook: Path
    line: int
    module: str
    name: str
    overrides: tuple[Override, ...] = field(default=())

    @property
    def symbol(self) -> str:
        return f"{self.module}.{self.name}" if self.name else self.module


def hook_files(config: Path) -> list[Path]:
    """The Python files beside the config that import litellm: the modules its callbacks and custom_auth name."""
    return sorted(p for p in config.parent.glob("*.py") if "litellm" in p.read_text(errors="replace"))


def _overrides(node: ast.ClassDef) -> tuple[Override, ...]:
    found = []
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and not item.name.startswith("__"):
            args = item.args
            names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs) if a.arg != "self"]
            found.append(Override(item.name, tuple(names), args.kwarg is not None))
    return tuple(found)


def uses(path: Path) -> list[HookUse]:
    """The litellm symbols one hook file uses (imports, module attributes, base classes)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: dict[str, str] = {}  # local name -> litellm module
    symbols: dict[str, tuple[str, str, int]] = {}  # local name -> (module, name, line)
    found: dict[tuple[str, str], HookUse] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "litellm":
                    modules[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "litellm"
                    found.setdefault((alias.name, ""), HookUse(path, node.lineno, alias.name, ""))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "litellm":
            for alias in node.names:
                symbols[alias.asname or alias.name] = (node.module or "", alias.name, node.lineno)
                found.setdefault((node.module or "", alias.name), HookUse(path, node.lineno, node.module or "",
                                                                          alias.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            key = (modules[node.value.id], node.attr)
            found.setdefault(key, HookUse(path, node.lineno, *key))
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id in symbols:
                    module, name, line = symbols[base.id]
                    use = found[(module, name)]
                    found[(module, name)] = HookUse(path, line, module, name, use.overrides + _overrides(node))
    return sorted(found.values(), key=lambda u: (u.line, u.symbol))


def probe(python: Path, hooks: list[HookUse], timeout_s: float = 180.0) -> list[dict]:
    """What one LiteLLM venv has of the hooks' symbols, asked of its own python."""
    request = [{"module": u.module, "name": u.name, "methods": [o.name for o in u.overrides]} for u in hooks]
    try:
        done = subprocess.run([str(python), "-I", str(_PROBE)], input=json.dumps(request), capture_output=True,
                              text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HookError(f"{python}: the hook probe did not run ({exc})") from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise HookError(f"{python}: the hook probe failed: {tail[:200]}")
    return json.loads(done.stdout)


def incompatibilities(hooks: list[HookUse], pinned: list[dict], candidate: list[dict], version: str,
                      root: Path) -> list[str]:
    """One line per use that works on the pinned release and breaks on the candidate."""
    lines = []
    for use, before, after in zip(hooks, pinned, candidate, strict=True):
        where = f"hook {_rel(use.hook, root)}:{use.line}"
        if before["found"] and not after["found"]:
            gone = after["error"].startswith(("ImportError", "ModuleNotFoundError", "AttributeError"))
            lines.append(f"{where} uses {use.symbol}, which litellm {version} does not have ({after['error']})"
                         if gone else f"{where}: importing {use.symbol} fails on litellm {version} "
                         f"({after['error']})")
            continue
        for override in use.overrides:
            old, new = before["methods"].get(override.name), after["methods"].get(override.name)
            if old is None:
                continue  # the hook's own helper, not an override of the pinned base
            if new is None:
                lines.append(f"{where} overrides {use.name}.{override.name}, which litellm {version} no longer has "
                             "(the hook would never be called)")
                continue
            missing = [p for p in new["params"] if p not in override.params and p not in old["params"]]
            if missing and not override.var_kw:
                lines.append(f"{where}: {use.name}.{override.name} in litellm {version} passes "
                             f"{', '.join(missing)}, which the hook's override does not accept")
    return lines


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
