"""The service's own Prometheus metrics and the ASGI middleware that counts requests.

Each app gets its own registry, so several apps (tests, replicas in one process) never clash.
``/metrics`` answers OpenMetrics when the scraper asks for it, else the classic text format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client import exposition as text_exposition
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class ApiMetrics:
    """Counters and histograms of one app."""

    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        self.requests = Counter(
            "tollgate_http_requests", "HTTP requests answered, by route, method and status.",
            ("route", "method", "status"), registry=self.registry,
        )
        self.latency = Histogram(
            "tollgate_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
            ("route",), buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.verdicts = Counter(
            "tollgate_judge_verdicts", "Canary verdicts given, by endpoint and verdict.",
            ("endpoint", "verdict"), registry=self.registry,
        )
        self.gate_answers = Counter(
            "tollgate_flagger_gate_answers", "Flagger webhook answers, by gate and HTTP status.",
            ("gate", "status"), registry=self.registry,
        )

    def render(self, accept: str) -> tuple[bytes, str]:
        """The exposition body and its content type for a scraper's ``Accept`` header."""
        if "application/openmetrics-text" in accept:
            return (openmetrics_exposition.generate_latest(self.registry),  # type: ignore[no-untyped-call]
                    openmetrics_exposition.CONTENT_TYPE_LATEST)
        return text_exposition.generate_latest(self.registry), text_exposition.CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI middleware: counts every HTTP request by its route template (not the raw path)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(template, scope.get("method", "?"), str(status)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - started)
