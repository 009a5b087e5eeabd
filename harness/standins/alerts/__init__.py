"""A webhook sink for notifications (budget warnings now; Alertmanager webhooks later), with a client.

Checks measure "an alert fired" as "a notification arrived here", timed by the sink's own clock.
"""

from harness.standins.alerts.client import AlertSink, Notification
from harness.standins.alerts.sink import create_app

__all__ = ["AlertSink", "Notification", "create_app"]
