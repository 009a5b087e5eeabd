"""The rendered alerting configuration: valid for Prometheus and Alertmanager's own checkers, and every
rule behaves as the plans say under promtool's unit tests (memory and disk cannot be caused for real
here, so these tests are their evidence); a mis-typed metric makes those tests fail."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.alerting import AlertingConfig, render
from harness.target import AlertingSettings, Target

HERE = Path(__file__).parent
PLAN = Target.embedded().model_copy(update={"alerting": AlertingSettings(), "quota_scale": 1.0})


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} missing: apt-get install -y prometheus prometheus-alertmanager (or make deps-alerting)")
    return path


def _rendered(folder: Path, target: Target = PLAN) -> Path:
    credentials = folder / "gateway.credentials"
    credentials.write_text("sk-test")
    where = AlertingConfig(gateway="127.0.0.1:4000", node_exporter="127.0.0.1:9100", redis_exporter="127.0.0.1:9121",
                           alertmanager="127.0.0.1:9093", sink="http://127.0.0.1:9000", credentials_file=credentials)
    for name, text in render(target, where).items():
        (folder / name).write_text(text)
    shutil.copy(HERE / "rules_test.yml", folder / "rules_test.yml")
    return folder


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_the_plans_values_reach_the_files(tmp_path: Path) -> None:
    folder = _rendered(tmp_path)
    prometheus, rules = (folder / "prometheus.yml").read_text(), (folder / "rules.yml").read_text()
    assert "scrape_interval: 15s" in prometheus and "scrape_timeout: 12s" in prometheus
    assert "[5m]" in rules and "for: 30s" in rules and "> 0.05" in rules and "> 10.0" in rules
    assert "group_interval: 1m" in (folder / "alertmanager.yml").read_text()


def test_prometheus_and_alertmanager_accept_the_configuration(tmp_path: Path) -> None:
    folder = _rendered(tmp_path)
    for argv in ([_tool("promtool"), "check", "config", str(folder / "prometheus.yml")],
                 [_tool("amtool"), "check-config", str(folder / "alertmanager.yml")]):
        result = _run(*argv)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_passes_its_unit_tests(tmp_path: Path) -> None:
    result = _run(_tool("promtool"), "test", "rules", str(_rendered(tmp_path) / "rules_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("wrong", "right"), [
    ("litellm_proxy_failed_requests_total", "litellm_proxy_failed_requests_metric_total"),  # older docs' name
    ('up{job="litellm"}', 'up{job="gateway"}'),  # a job name that is not the scrape config's
    ("node_memory_MemFree_bytes", "node_memory_MemAvailable_bytes"),  # free is not available
])
def test_a_mistyped_rule_fails_the_unit_tests(tmp_path: Path, wrong: str, right: str) -> None:
    folder = _rendered(tmp_path)
    rules = folder / "rules.yml"
    assert right in rules.read_text()
    rules.write_text(rules.read_text().replace(right, wrong))
    result = _run(_tool("promtool"), "test", "rules", str(folder / "rules_test.yml"))
    assert result.returncode != 0, result.stdout
