"""A real, throw-away Prometheus server holding backfilled series, for integration tests.

Usage (importable from tests in this folder)::

    from prometheus_fixture import running_prometheus

    with running_prometheus(tmp_path, {("latency", (("track", "canary"),)): [(t0, 1.0), ...]}) as prom:
        httpx.get(prom.url + "/api/v1/query", params={"query": "latency"})

Series are written as an OpenMetrics file (timestamps in seconds, ending with ``# EOF``), turned into
TSDB blocks with ``promtool tsdb create-blocks-from openmetrics``, and served by ``prometheus`` on a
free loopback port with a 100-year retention so old timestamps stay queryable. The server is stopped
when the block exits. ``prometheus`` and ``promtool`` come from the Debian package ``prometheus``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]  # (metric name, sorted label pairs)


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    port: int
    data_dir: Path
    log: Path


def _program(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found; install the Debian package 'prometheus'")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_openmetrics(path: Path, series: Mapping[SeriesKey, Sequence[tuple[float, float]]]) -> None:
    """Write gauges in OpenMetrics text (families grouped, samples in time order, ``# EOF`` last)."""
    by_family: dict[str, list[SeriesKey]] = {}
    for key in series:
        by_family.setdefault(key[0], []).append(key)
    lines: list[str] = []
    for family, keys in by_family.items():
        lines.append(f"# TYPE {family} gauge")
        for key in keys:
            labels = ",".join(f'{k}="{v}"' for k, v in key[1])
            selector = f"{{{labels}}}" if labels else ""
            for stamp, value in sorted(series[key]):
                lines.append(f"{family}{selector} {float(value)!r} {float(stamp):.3f}")
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.contextmanager
def running_prometheus(
    workdir: Path, series: Mapping[SeriesKey, Sequence[tuple[float, float]]], *, startup_timeout: float = 30.0
) -> Iterator[PrometheusServer]:
    """Backfill ``series`` and run Prometheus on them until the block exits."""
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "tsdb"
    source = workdir / "series.om"
    write_openmetrics(source, series)
    done = subprocess.run(
        [_program("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        capture_output=True, text=True, timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"promtool failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n", encoding="utf-8")
    log = workdir / "prometheus.log"
    for _attempt in range(3):
        port = _free_port()
        with log.open("w") as handle:
            process = subprocess.Popen(
                [
                    _program("prometheus"),
                    f"--storage.tsdb.path={data_dir}",
                    "--storage.tsdb.retention.time=100y",
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--config.file={config}",
                ],
                stdout=handle, stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + startup_timeout
        ready = False
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                    ready = True
                    break
            time.sleep(0.2)
        if ready:
            try:
                yield PrometheusServer(url, port, data_dir, log)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
            return
        process.kill()
        process.wait(timeout=5)
    raise RuntimeError(f"prometheus did not become ready:\n{log.read_text(errors='replace')}")
