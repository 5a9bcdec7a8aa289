"""Metric series for the canary judge: metric files (CSV/JSON) and the Prometheus HTTP API.

Files have the columns ``metric,timestamp,value`` (CSV with a header row, or JSON: a list of objects
with those keys, or an object mapping each metric to a list of ``[timestamp, value]`` pairs or of
``{timestamp, value}`` objects). Timestamps are unix seconds or ISO 8601 (UTC when no offset is
given); values are numbers, ``NaN`` and ``±Inf`` allowed. Bad rows raise ParseError naming the file
and line (JSON: the item).

:class:`PrometheusClient` runs ``query_range`` (and instant ``query``) with a timeout, retries with
exponential backoff on connection errors and 5xx answers, and an optional bearer token or extra headers. An unreachable
server raises DependencyError naming the URL; an error answer from Prometheus (bad PromQL, say)
raises InputError carrying Prometheus's message.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import httpx

from tollgate.errors import DependencyError, InputError, ParseError
from tollgate.model.canary import Series

__all__ = [
    "FakeMetricSource",
    "LabeledSeries",
    "MetricSource",
    "PrometheusClient",
    "fetch_pair",
    "parse_timestamp",
    "read_metric_file",
    "render_query",
    "single_series",
]

SELECTOR_PLACEHOLDERS = ("{{selector}}", "{{canary_selector}}", "{{baseline_selector}}")


def parse_timestamp(text: object) -> float:
    """Unix seconds from a number or an ISO 8601 string. Raises ValueError."""
    if isinstance(text, bool):
        raise ValueError(f"timestamp {text!r} is not a number or ISO 8601 date")
    if isinstance(text, int | float):
        value = float(text)
    else:
        raw = str(text).strip()
        try:
            value = float(raw)
        except ValueError:
            try:
                moment = datetime.fromisoformat(raw)
            except ValueError:
                raise ValueError(f"timestamp {raw!r} is not unix seconds or ISO 8601") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            value = moment.timestamp()
    if not math.isfinite(value):
        raise ValueError(f"timestamp {text!r} is not finite")
    return value


def _value(text: object) -> float:
    if isinstance(text, bool) or text is None:
        raise ValueError(f"value {text!r} is not a number")
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"value {text!r} is not a number") from None


def _collect(rows: Iterable[tuple[int | None, str, str, object, object]], path: str) -> dict[str, Series]:
    """(line, item label, metric, timestamp, value) rows -> series per metric, sorted by time."""
    points: dict[str, list[tuple[float, float]]] = {}
    for line, where, metric, stamp, value in rows:
        prefix = f"{where}: " if where else ""
        name = str(metric).strip() if metric is not None else ""
        if not name:
            raise ParseError(path, f"{prefix}empty metric name", line=line)
        try:
            points.setdefault(name, []).append((parse_timestamp(stamp), _value(value)))
        except ValueError as exc:
            raise ParseError(path, f"{prefix}{exc}", line=line) from None
    out = {}
    for name, pts in points.items():
        pts.sort(key=lambda p: p[0])
        out[name] = Series(tuple(v for _, v in pts), tuple(t for t, _ in pts))
    return out


def _csv_rows(path: Path, text: str) -> Iterable[tuple[int | None, str, str, object, object]]:
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise ParseError(str(path), "empty file; expected the header metric,timestamp,value", line=1)
    names = [h.strip().lower() for h in header]
    missing = [c for c in ("metric", "timestamp", "value") if c not in names]
    if missing:
        raise ParseError(str(path), f"header lacks column(s) {', '.join(missing)}", line=1)
    idx = {c: names.index(c) for c in ("metric", "timestamp", "value")}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            raise ParseError(str(path), f"expected {len(names)} fields, found {len(row)}", line=line)
        yield line, "", row[idx["metric"]], row[idx["timestamp"]], row[idx["value"]]


def _json_rows(path: Path, data: Any) -> Iterable[tuple[int | None, str, str, object, object]]:
    if isinstance(data, list):
        for i, item in enumerate(data):
            if not isinstance(item, Mapping) or not {"metric", "timestamp", "value"} <= item.keys():
                raise ParseError(str(path), f"item [{i}]: expected an object with metric, timestamp and value")
            yield None, f"item [{i}]", item["metric"], item["timestamp"], item["value"]
        return
    if isinstance(data, Mapping):
        for metric, points in data.items():
            if not isinstance(points, list):
                raise ParseError(str(path), f"{metric!r}: expected a list of points")
            for i, point in enumerate(points):
                where = f"{metric!r}[{i}]"
                if isinstance(point, Mapping) and {"timestamp", "value"} <= point.keys():
                    yield None, where, metric, point["timestamp"], point["value"]
                elif isinstance(point, list) and len(point) == 2:
                    yield None, where, metric, point[0], point[1]
                else:
                    raise ParseError(str(path), f"{where}: expected [timestamp, value] or {{timestamp, value}}")
        return
    raise ParseError(str(path), "expected a JSON list of rows or an object of metric -> points")


def read_metric_file(path: Path) -> dict[str, Series]:
    """Read a CSV or JSON metric file into one series per metric (sorted by timestamp)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ParseError(str(path), "not UTF-8 text") from None
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(str(path), f"invalid JSON: {exc.msg}", line=exc.lineno) from None
        return _collect(_json_rows(path, data), str(path))
    return _collect(_csv_rows(path, text), str(path))


def render_query(template: str, selector: str) -> str:
    """Put one side's label selector into a PromQL template (every placeholder gets the same side)."""
    out = template
    for placeholder in SELECTOR_PLACEHOLDERS:
        out = out.replace(placeholder, selector)
    return out


@dataclass(frozen=True, slots=True)
class LabeledSeries:
    """One series of a Prometheus answer with its label set."""

    labels: Mapping[str, str]
    series: Series


class MetricSource(Protocol):
    """Anything that answers range queries (Prometheus, or a fake in tests and demos)."""

    def query_range(self, query: str, start: float, end: float, step: float) -> list[LabeledSeries]: ...


@dataclass
class FakeMetricSource:
    """Answers queries from a dict (query text -> series); unknown queries return no series."""

    answers: dict[str, list[LabeledSeries]] = field(default_factory=dict)
    calls: list[tuple[str, float, float, float]] = field(default_factory=list)

    def query_range(self, query: str, start: float, end: float, step: float) -> list[LabeledSeries]:
        self.calls.append((query, start, end, step))
        return [
            LabeledSeries(ls.labels, _window(ls.series, start, end)) for ls in self.answers.get(query, [])
        ]


def _window(series: Series, start: float, end: float) -> Series:
    if not series.timestamps:
        return series
    keep = [i for i, t in enumerate(series.timestamps) if start <= t <= end]
    return Series(tuple(series.values[i] for i in keep), tuple(series.timestamps[i] for i in keep))


class PrometheusClient:
    """A small client of the Prometheus HTTP API (``/api/v1/query_range``)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        bearer_token: str | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries = max(0, retries)
        self.backoff = backoff
        self._sleep = sleep
        merged = dict(headers or {})
        if bearer_token:
            merged["Authorization"] = f"Bearer {bearer_token}"
        self._client = httpx.Client(base_url=self.url, timeout=timeout, headers=merged, transport=transport)

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        endpoint = f"{self.url}{path}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._client.get(path, params=params)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.status_code >= 500:
                last = f"HTTP {response.status_code}: {_prom_error(response) or response.reason_phrase}"
                continue
            if response.status_code >= 400:
                message = _prom_error(response) or f"HTTP {response.status_code} {response.reason_phrase}"
                raise InputError(f"Prometheus at {self.url} rejected the query: {message}")
            try:
                body = response.json()
            except ValueError:
                raise DependencyError(f"Prometheus at {endpoint} answered with non-JSON content") from None
            if not isinstance(body, Mapping) or body.get("status") != "success":
                message = _prom_error(response) or "unexpected answer"
                raise InputError(f"Prometheus at {self.url} rejected the query: {message}")
            return body.get("data")
        raise DependencyError(
            f"Prometheus at {endpoint} is unreachable after {self.retries + 1} attempt(s): {last}",
            hint="check the URL and that Prometheus is running, then retry",
        )

    def query_range(self, query: str, start: float, end: float, step: float) -> list[LabeledSeries]:
        """Every series the range query returns (values as floats; NaN/Inf kept)."""
        if step <= 0 or end < start:
            raise InputError(f"query range needs start <= end and step > 0 (got {start}, {end}, {step})")
        data = self._get(
            "/api/v1/query_range",
            {"query": query, "start": _fmt(start), "end": _fmt(end), "step": _fmt(step)},
        )
        if not isinstance(data, Mapping) or data.get("resultType") != "matrix":
            kind = data.get("resultType") if isinstance(data, Mapping) else type(data).__name__
            raise InputError(f"Prometheus at {self.url}: query_range answered {kind!r}, expected a matrix")
        out = []
        for item in data.get("result") or []:
            pairs = item.get("values") or []
            out.append(
                LabeledSeries(
                    dict(item.get("metric") or {}),
                    Series(tuple(float(v) for _, v in pairs), tuple(float(t) for t, _ in pairs)),
                )
            )
        return out

    def query(self, query: str, at: float | None = None) -> list[LabeledSeries]:
        """Every series of an instant query (``/api/v1/query``), each as a one-sample series.

        A scalar answer comes back as one series without labels.
        """
        params = {"query": query}
        if at is not None:
            params["time"] = _fmt(at)
        data = self._get("/api/v1/query", params)
        kind = data.get("resultType") if isinstance(data, Mapping) else type(data).__name__
        if kind == "scalar":
            stamp, value = data["result"]
            return [LabeledSeries({}, Series((float(value),), (float(stamp),)))]
        if kind != "vector":
            raise InputError(f"Prometheus at {self.url}: query answered {kind!r}, expected a vector")
        out = []
        for item in data.get("result") or []:
            stamp, value = item.get("value") or (0.0, "NaN")
            out.append(LabeledSeries(dict(item.get("metric") or {}), Series((float(value),), (float(stamp),))))
        return out


def _fmt(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _prom_error(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, Mapping) and body.get("error"):
        kind = body.get("errorType")
        return f"{kind}: {body['error']}" if kind else str(body["error"])
    return None


def single_series(found: list[LabeledSeries], query: str) -> Series:
    """The one series of an answer: empty when there is none; InputError when there are several."""
    if not found:
        return Series(())
    if len(found) > 1:
        raise InputError(
            f"query {query!r} returned {len(found)} series; aggregate it to one (e.g. wrap it in sum(...))"
        )
    return found[0].series


def fetch_pair(
    source: MetricSource,
    template: str,
    *,
    baseline_selector: str,
    canary_selector: str,
    start: float,
    end: float,
    step: float,
) -> tuple[Series, Series]:
    """Baseline and canary series of one metric over the same window and step (so samples align)."""
    queries = (render_query(template, baseline_selector), render_query(template, canary_selector))
    b_query, c_query = queries
    return (
        single_series(source.query_range(b_query, start, end, step), b_query),
        single_series(source.query_range(c_query, start, end, step), c_query),
    )
