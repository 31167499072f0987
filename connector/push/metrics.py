"""Push metrics in the Prometheus text format, beside the connector's own (`/metrics`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from connector.metrics import Histogram
from connector.push.delivery import Delivery


@dataclass
class PushMetrics:
    sent: int = 0  # accepted by the push service (201/202)
    failed: Counter[str] = field(default_factory=Counter)  # by status (or connection, timeout)
    retried: int = 0  # attempts again after 429, 5xx or no answer
    removed: int = 0  # subscriptions removed: the push service said 404/410
    latency: Histogram = field(default_factory=Histogram)  # event in -> push service answered
    process_restarts: int = 0  # deaths of the push process (push_process), each restarted

    def record(self, delivery: Delivery) -> None:
        self.retried += delivery.retries
        if delivery.sent:
            self.sent += 1
            self.latency.observe(delivery.latency or 0.0)
            return
        self.failed[delivery.status] += 1
        self.removed += delivery.gone

    def render(self, *, subscriptions: int) -> str:
        lines = [
            "# HELP connector_push_subscriptions Push subscriptions held.",
            "# TYPE connector_push_subscriptions gauge",
            f"connector_push_subscriptions {subscriptions}",
            "# HELP connector_push_sent_total Pushes accepted by a push service.",
            "# TYPE connector_push_sent_total counter",
            f"connector_push_sent_total {self.sent}",
            "# HELP connector_push_failed_total Pushes given up, by the push service's status.",
            "# TYPE connector_push_failed_total counter",
            *(
                f'connector_push_failed_total{{status="{status}"}} {n}'
                for status, n in sorted(self.failed.items())
            ),
            "# HELP connector_push_retried_total Push attempts repeated (429, 5xx, no answer).",
            "# TYPE connector_push_retried_total counter",
            f"connector_push_retried_total {self.retried}",
            "# HELP connector_push_subscriptions_removed_total Subscriptions the push service"
            " said were gone (404, 410).",
            "# TYPE connector_push_subscriptions_removed_total counter",
            f"connector_push_subscriptions_removed_total {self.removed}",
            "# HELP connector_push_process_restarts_total Times the push process died and was"
            " started again.",
            "# TYPE connector_push_process_restarts_total counter",
            f"connector_push_process_restarts_total {self.process_restarts}",
            "# HELP connector_push_latency_seconds Event in to the push service's answer.",
            "# TYPE connector_push_latency_seconds histogram",
            *self.latency.lines("connector_push_latency_seconds"),
        ]
        return "\n".join(lines) + "\n"
