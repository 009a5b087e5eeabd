"""Loads the harness's pytest plugin for the suites (`pytest suites/acceptance`) and its own tests."""

pytest_plugins = ["harness.pytest_plugin"]
