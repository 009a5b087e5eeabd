"""The reference stack's alerting (Prometheus, Alertmanager, exporters from Debian) around a running stack.

Started only by the suites that need it; every alert lands in the harness's notification sink.
"""

from harness.alerting.config import AlertingConfig, render
from harness.alerting.rig import AlertingRig

__all__ = ["AlertingConfig", "AlertingRig", "render"]
