"""Renders `stack/alerting/*.j2` with a target's thresholds and timing: the plans' values by default."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from harness.target import Target

__all__ = ["TEMPLATES", "AlertingConfig", "daily_spend_usd", "duration", "render"]

TEMPLATES = Path(__file__).resolve().parents[2] / "stack" / "alerting"


def duration(seconds: float) -> str:
    """A Prometheus/Alertmanager duration; milliseconds keep a scaled 2.5 s exact."""
    millis = max(0, round(seconds * 1000))
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis and millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


@dataclass(frozen=True)
class AlertingConfig:
    """Where the rendered configuration points: the gateway, the exporters, Alertmanager and the sink."""

    gateway: str
    node_exporter: str
    redis_exporter: str
    alertmanager: str
    sink: str
    credentials_file: Path


def daily_spend_usd(target: Target) -> float:
    """AL-4's daily spend limit, scaled like the stack's other money limits (quota_scale)."""
    return round(target.threshold("AL-4.spend") * target.quota_scale, 4)


def render(target: Target, where: AlertingConfig) -> dict[str, str]:
    """`prometheus.yml`, `rules.yml` and `alertmanager.yml` as text."""
    settings = target.alerting
    scrape = settings.scaled(settings.scrape_interval_s)
    values = {
        "scrape": duration(scrape),
        "scrape_timeout": duration(scrape * 0.8),
        "window": duration(settings.scaled(settings.window_s)),
        # the Nth failed check: N-1 intervals after the first one failed
        "down_for": duration(scrape * (settings.failed_checks - 1)),
        "memory_for": duration(settings.scaled(settings.memory_for_s)),
        "group_wait": duration(settings.scaled(settings.group_wait_s) if settings.group_wait_s else 0),
        "group_interval": duration(settings.scaled(settings.group_interval_s)),
        "error_rate": target.threshold("AL-2.rate"),
        "error_rate_pct": round(target.threshold("AL-2.rate") * 100, 2),
        "p95": target.threshold("AL-3.p95"),
        "daily_spend": daily_spend_usd(target),
        "memory_ratio": settings.memory_ratio,
        "memory_pct": round(settings.memory_ratio * 100),
        "disk_ratio": settings.disk_ratio,
        "disk_pct": round(settings.disk_ratio * 100),
        **{k: str(v) for k, v in where.__dict__.items()},
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    return {name: env.get_template(f"{name}.j2").render(values)
            for name in ("prometheus.yml", "rules.yml", "alertmanager.yml")}
