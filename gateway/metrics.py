"""Prometheus metrics of the gateway, and the ASGI middleware that records requests.

Requests are counted in plain dictionaries and turned into Prometheus families only when
``/metrics`` is scraped: on the write path a prometheus_client child costs a lock and a loop over
the buckets per observation, several times what the counting itself needs.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class _Latency:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0


class GatewayMetrics(Collector):
    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: defaultdict[tuple[str, str], _Latency] = defaultdict(_Latency)
        self.limited: defaultdict[str, int] = defaultdict(int)
        self.appended: defaultdict[str, int] = defaultdict(int)
        self.duplicates = 0
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[method, route, status] += 1
        latency = self.latency[method, route]
        latency.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency.total += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "baas_http_requests",
            "HTTP requests by route and status.",
            labels=["method", "route", "status"],
        )
        for (method, route, status), count in sorted(self.requests.items()):
            requests.add_metric([method, route, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "baas_http_request_duration_seconds",
            "Time from request to response, by route.",
            labels=["method", "route"],
        )
        for (method, route), observed in sorted(self.latency.items()):
            cumulative, running = [], 0
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), observed.counts, strict=True):
                running += count
                cumulative.append((floatToGoString(bound), running))
            latency.add_metric([method, route], cumulative, observed.total)
        yield latency
        limited = CounterMetricFamily(
            "baas_rate_limited", "Requests answered 429, by limiter.", labels=["limiter"]
        )
        for limiter, count in sorted(self.limited.items()):
            limited.add_metric([limiter], count)
        yield limited
        appended = CounterMetricFamily(
            "baas_events_appended",
            "Events appended to tenants' logs, by command type.",
            labels=["type"],
        )
        for command_type, count in sorted(self.appended.items()):
            appended.add_metric([command_type], count)
        yield appended
        yield CounterMetricFamily(
            "baas_events_duplicate",
            "Replayed events answered from the idempotency record.",
            value=self.duplicates,
        )


def route_template(scope: Scope) -> str:
    return getattr(scope.get("route"), "path", None) or "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.record(
                scope["method"], route_template(scope), status, time.perf_counter() - started
            )
