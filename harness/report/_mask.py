"""Masks anything that looks like a credential before it reaches a report page.

Known secrets of the run (master, provider, team keys) are replaced wherever they occur; strings
shaped like keys (`sk-...`, `pk-lf-...`, bearer tokens) are cut to a recognisable prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["Masker"]

_SHAPES = re.compile(r"\b((?:sk|pk)-(?:lf-|team-|ant-)?)[A-Za-z0-9_\-]{6,}|(Bearer\s+)[A-Za-z0-9_\-.]{6,}")


class Masker:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, "****")
        return _SHAPES.sub(lambda m: f"{m.group(1) or m.group(2)}****", value)

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
