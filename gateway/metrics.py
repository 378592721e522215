"""Prometheus metrics of the gateway, and the ASGI middleware that records requests."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "baas_http_requests_total",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "baas_http_request_duration_seconds",
            "Time from request to response, by route.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.rate_limited = Counter(
            "baas_rate_limited_total",
            "Requests answered 429, by limiter.",
            ["limiter"],
            registry=self.registry,
        )
        self.events_appended = Counter(
            "baas_events_appended_total",
            "Events appended to tenants' logs, by command type.",
            ["type"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._appended: dict[str, Any] = {}
        self.events_duplicate = Counter(
            "baas_events_duplicate_total",
            "Replayed events answered from the idempotency record.",
            registry=self.registry,
        )

    def appended(self, command_type: str) -> None:
        child = self._appended.get(command_type)
        if child is None:
            child = self._appended[command_type] = self.events_appended.labels(command_type)
        child.inc()

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        # Label lookups cost more than the increments: keep the children.
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


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
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.record(scope["method"], template, status, time.perf_counter() - started)
