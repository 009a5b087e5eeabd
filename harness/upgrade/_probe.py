"""Run by a LiteLLM venv's own python (never imported by the harness): for each symbol a hook uses, whether
this LiteLLM has it, and for each method a hook's subclass overrides, the base method's parameters.

stdin: [{"module": ..., "name": ..., "methods": [...]}]; stdout: [{"found": bool, "error": str,
"methods": {name: {"params": [...], "var_kw": bool} | null}}].
"""

import importlib
import inspect
import json
import logging
import sys


def _lookup(module_name: str, name: str) -> object:
    module = importlib.import_module(module_name)
    if not name:
        return module
    if hasattr(module, name):
        return getattr(module, name)
    return importlib.import_module(f"{module_name}.{name}")


def _method(base: object, name: str) -> dict | None:
    member = getattr(base, name, None)
    if member is None or not callable(member):
        return None
    try:
        signature = inspect.signature(member)
    except (TypeError, ValueError):
        return {"params": [], "var_kw": True}
    params = [p.name for p in signature.parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
    var_kw = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    return {"params": params, "var_kw": var_kw}


def main() -> None:
    logging.disable(logging.CRITICAL)
    uses = json.load(sys.stdin)
    out = []
    for use in uses:
        try:
            found = _lookup(use["module"], use["name"])
        except BaseException as exc:  # any failure to import is the answer (a SystemExit at import too)
            out.append({"found": False, "error": f"{type(exc).__name__}: {exc}"[:200], "methods": {}})
            continue
        out.append({"found": True, "error": "", "methods": {m: _method(found, m) for m in use["methods"]}})
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    main()
