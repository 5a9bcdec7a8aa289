"""The app factory and the one place where errors become HTTP statuses.

Status mapping: NotFoundError 404, other InputError 400 (a body that does not validate is also 400,
naming each bad field), DependencyError 503, IntegrityError 500; anything unexpected is a 500 with a
generic message -- never a pass.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tollgate import __version__
from tollgate.api.metrics import ApiMetrics, MetricsMiddleware
from tollgate.api.routes import router
from tollgate.api.service import ApiService
from tollgate.errors import DependencyError, InputError, IntegrityError, NotFoundError, TollgateError
from tollgate.ledger.base import DecisionLedger
from tollgate.settings import Settings
from tollgate.sources.metrics import MetricSource

log = logging.getLogger(__name__)

WORK_THREADS = 4
"""Threads that fetch, judge and record at once (see ``routes._in_worker``)."""

STATUS_OF: dict[type[TollgateError], int] = {
    NotFoundError: 404,
    InputError: 400,
    DependencyError: 503,
    IntegrityError: 500,
}
"""Error class -> HTTP status; the most specific class listed in an error's MRO wins."""


def status_of(error: TollgateError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 500


def _location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def describe_validation(exc: RequestValidationError) -> str:
    """One line naming every bad field, e.g. ``body.canarySelector: Field required``."""
    problems = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            problems.append(f"body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})")
            continue
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{_location(tuple(err.get('loc', ())))}: {msg}")
    return "invalid request: " + "; ".join(problems[:8]) + (f" (and {len(problems) - 8} more)"
                                                             if len(problems) > 8 else "")


def _install_error_handlers(app: FastAPI) -> None:
    async def tollgate_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TollgateError)
        body = {"error": exc.message, "type": type(exc).__name__}
        if exc.hint:
            body["hint"] = exc.hint
        return JSONResponse(body, status_code=status_of(exc))

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"error": describe_validation(exc), "type": "InputError"}, status_code=400)

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse({"error": str(exc.detail), "type": "HTTPError"}, status_code=exc.status_code,
                            headers=exc.headers)

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"error": "internal error; see the service log", "type": "InternalError"},
                            status_code=500)

    app.add_exception_handler(TollgateError, tollgate_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def create_app(
    settings: Settings,
    *,
    ledger_factory: Callable[[], DecisionLedger] | None = None,
    metric_source: MetricSource | None = None,
) -> FastAPI:
    """Build the service.

    ``ledger_factory`` opens the ledger (default: the URL in ``settings``), called once on first use and
    closed at shutdown; ``metric_source`` answers PromQL range queries (default: a Prometheus client of
    ``settings.api.prometheus_url``).
    """
    service = ApiService(settings, ledger_factory=ledger_factory, metric_source=metric_source)
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything alive at start-up (modules, schemas, NumPy/SciPy) lives as long as the process:
        # move it out of the collector's sight, so collections triggered by request garbage stay cheap.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            service.close()
            gc.unfreeze()  # give the objects back, so whatever runs after the app can free them

    app = FastAPI(title="tollgate", version=__version__, lifespan=lifespan,
                  summary="Canary verdicts, approvals and gates for Argo Rollouts, Flagger and Kayenta.")
    app.state.service = service
    app.state.work_limiter = anyio.CapacityLimiter(WORK_THREADS)
    app.state.metrics = metrics
    _install_error_handlers(app)
    app.include_router(router)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def prometheus_metrics(request: Request) -> Response:
        """The service's metrics in the Prometheus text format, or OpenMetrics when asked for."""
        body, content_type = metrics.render(request.headers.get("accept", ""))
        return Response(body, media_type=content_type)

    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory (``tollgate.api.app:app_from_env``): the app with settings from TOLLGATE_* variables."""
    return create_app(Settings())
