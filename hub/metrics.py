"""Prometheus metrics of one hub process (`/metrics`, text exposition format).

Label values come from fixed sets: the transactions and endpoints the hub declares (see
`Metrics.declare`). Anything else, such as the MSH-9 of a message nobody handles, is
counted under `other`: a caller must not be able to grow `/metrics` with values of its
choosing.
"""
from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

OTHER = "other"
# Labels the hub itself uses before any transaction is identified.
_FIXED_TRANSACTIONS = frozenset({"unknown"})
_FIXED_ENDPOINTS = frozenset({"mllp"})
_LISTENERS = frozenset({"https", "mllp"})
_OUTCOMES = frozenset({"success", "error", "refused"})


class Metrics:
    """Request counts and latencies per endpoint and transaction."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._transactions: set[str] = set(_FIXED_TRANSACTIONS)
        self._endpoints: set[str] = set(_FIXED_ENDPOINTS)
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

    def declare(self, transactions: Iterable[str] = (), endpoints: Iterable[str] = ()) -> None:
        """Add transaction names (`ITI-41`) and endpoint paths (`/xds/registry`) that may
        appear as labels; the hub declares those it registers."""
        self._transactions.update(transactions)
        self._endpoints.update(_path(e) for e in endpoints)

    def observe(self, listener: str, endpoint: str, transaction: str, outcome: str, seconds: float) -> None:
        listener = listener if listener in _LISTENERS else OTHER
        endpoint = endpoint if endpoint == "mllp" else _path(endpoint)
        endpoint = endpoint if endpoint in self._endpoints else OTHER
        transaction = transaction if transaction in self._transactions else OTHER
        outcome = outcome if outcome in _OUTCOMES else OTHER
        self.requests.labels(listener, endpoint, transaction, outcome).inc()
        self.latency.labels(listener, endpoint, transaction).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _path(endpoint: str) -> str:
    """`fhir/Patient` (a mount path) and `/fhir/Patient` name the same endpoint."""
    return "/" + endpoint.strip("/")
