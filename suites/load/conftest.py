"""`--profile attribution` is its own run: it starts a stack per variant, so the LD tests (which share one
stack) are deselected then, and the attribution test otherwise."""

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    attribution = config.getoption("profile") == "attribution"
    keep = [item for item in items if (item.name == "test_attribution") == attribution]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
