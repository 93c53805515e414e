"""Prometheus metrics of one hub process (`/metrics`, text exposition format)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Request counts and latencies per endpoint and transaction."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tsnhub_requests",
            "Requests handled, by listener, endpoint, transaction and outcome",
            ("listener", "endpoint", "transaction", "outcome"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "tsnhub_request_seconds",
            "Time from complete request to response, by listener, endpoint and transaction",
            ("listener", "endpoint", "transaction"),
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def observe(self, listener: str, endpoint: str, transaction: str, outcome: str, seconds: float) -> None:
        self.requests.labels(listener, endpoint, transaction, outcome).inc()
        self.latency.labels(listener, endpoint, transaction).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
