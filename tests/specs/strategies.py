"""What the stand-ins' property tests share: how many examples and how, and any JSON value."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

__all__ = ["examples", "json_values"]


def examples(count: int) -> settings:
    """Derandomized (CI draws the same examples each run), no database, and no shrinking: a body drawn from a
    3 MB spec takes minutes to shrink, and the failure message prints it whole anyway."""
    return settings(max_examples=count, deadline=None, derandomize=True, database=None,
                    phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))


def json_values(*, integers: st.SearchStrategy[int] | None = None, text_size: int = 12,
                max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """Any JSON value (JSON has no NaN or infinity), nested up to `max_leaves` scalars."""
    scalars = (st.none() | st.booleans() | (st.integers() if integers is None else integers)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=text_size))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=max_leaves)
