"""Load benchmark of ``POST /v1/judge/argo`` over loopback (open loop, fixed rate, stops by itself).

Starts ``tollgate serve``'s app under uvicorn in a child process on 127.0.0.1 -- with a SQLite ledger
file and an in-process fake metric source (two metrics, 120 samples per side, half the canaries
regressed) so that the service, the judge and the ledger are measured, not Prometheus -- then sends
``--rate`` requests per second for ``--duration`` seconds on a fixed schedule and reports latency
percentiles. Latency is measured from each request's *scheduled* start, so client-side queueing
counts against the service (no coordinated omission).

    python3 benchmarks/load_argo.py                      # 200 req/s for 60 s
    python3 benchmarks/load_argo.py --rate 50 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np

T = TypeVar("T")
TOKEN = "bench-token"
END = 1_700_000_000.0
SAMPLES, STEP = 120, 5.0
CONFIG = """
name: checkout
metrics:
  - name: latency
    query: 'http_latency_ms{ {{selector}} }'
    direction: increase
    groups: [latency]
  - name: cpu
    query: 'sum(rate(cpu_seconds_total{ {{selector}} }[1m]))'
    groups: [saturation]
classifier:
  groupWeights: {latency: 70, saturation: 30}
"""


def bench_app() -> object:
    """The app under test (a uvicorn factory, so ``--workers`` can start several processes)."""
    from tollgate.api import create_app
    from tollgate.model.canary import Series
    from tollgate.settings import ApiSettings, Settings
    from tollgate.sources.metrics import FakeMetricSource, LabeledSeries, render_query

    workdir = Path(os.environ["TOLLGATE_BENCH_WORKDIR"])
    (workdir / "canaries").mkdir(exist_ok=True)
    (workdir / "canaries" / "checkout.yaml").write_text(CONFIG, encoding="utf-8")
    rng = np.random.default_rng(42)
    stamps = tuple(END - (SAMPLES - 1 - i) * STEP for i in range(SAMPLES))
    source = FakeMetricSource()
    for track, factor in (("stable", 1.0), ("good", 1.0), ("bad", 1.3)):
        for template, mean, sd in (("http_latency_ms{ {{selector}} }", 200.0 * factor, 10.0 * factor),
                                   ("sum(rate(cpu_seconds_total{ {{selector}} }[1m]))", 0.5, 0.05)):
            values = tuple(float(v) for v in rng.normal(mean, sd, SAMPLES))
            source.answers[render_query(template, f'track="{track}"')] = [
                LabeledSeries({"track": track}, Series(values, stamps))]
    settings = Settings(ledger_url=f"sqlite:///{workdir / 'ledger.db'}",
                        api=ApiSettings(token=TOKEN, canary_dir=workdir / "canaries"))
    return create_app(settings, metric_source=source)


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server process and its worker processes."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in (root, *root.children(recursive=True)):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _serve(port: int, workers: int) -> None:
    import uvicorn

    # what `tollgate serve` runs: uvloop, httptools, TCP_NODELAY on every connection
    from tollgate.cli.serve import EVENT_LOOP, HTTP_PROTOCOL

    uvicorn.run("load_argo:bench_app", factory=True, host="127.0.0.1", port=port, workers=workers,
                app_dir=str(Path(__file__).resolve().parent), log_level="warning", access_log=False,
                http=HTTP_PROTOCOL, loop=EVENT_LOOP)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _body(i: int) -> dict[str, object]:
    return {"config": "checkout", "baselineSelector": 'track="stable"',
            "canarySelector": 'track="good"' if i % 2 == 0 else 'track="bad"',
            "lookback": "10m", "step": "5s", "end": END, "rollout": "checkout", "namespace": "shop"}


class _Connection:
    """One keep-alive HTTP/1.1 connection of the load client (raw asyncio streams).

    The client shares the machine with the server, so it must cost little: httpx spent ~2.9 ms of CPU per
    request here, more than a third of what the server spends; this costs a few tenths of a millisecond.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def post(self, request: bytes) -> tuple[int, bytes]:
        """Send one pre-encoded request; the status code and body of the answer."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


def _request_bytes(host: str, port: int, body: dict[str, object]) -> bytes:
    payload = json.dumps(body).encode()
    head = (f"POST /v1/judge/argo HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


async def _load(host: str, port: int, rate: float, duration: float, timeout: float,
                max_inflight: int) -> dict[str, object]:
    total = int(rate * duration)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    requests = [_request_bytes(host, port, _body(i)) for i in range(2)]  # the body alternates good / bad
    idle: list[_Connection] = []

    async def exchange(request: bytes) -> tuple[int, bytes]:
        """Post on a kept-alive connection, as HTTP clients do: one the server closed while it sat idle
        (uvicorn's keep-alive timeout) is dropped, and a request it closed before answering is sent
        again once on a fresh connection."""
        while idle:
            connection = idle.pop()
            if connection.reader.at_eof() or connection.writer.is_closing():
                connection.close()
                continue
            try:
                answer = await connection.post(request)
            except (asyncio.IncompleteReadError, ConnectionError):
                connection.close()
                break
            except BaseException:  # a timeout: the connection's state is unknown
                connection.close()
                raise
            idle.append(connection)
            return answer
        connection = await _Connection.open(host, port)
        try:
            answer = await connection.post(request)
        except BaseException:
            connection.close()
            raise
        idle.append(connection)
        return answer

    async def one(i: int, scheduled: float) -> None:
        try:
            status, body = await asyncio.wait_for(exchange(requests[i % 2]), timeout)
            statuses[str(status)] += 1
            if status == 200:
                verdicts[json.loads(body)["verdict"]] += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            statuses[type(exc).__name__] += 1
        latencies.append(time.perf_counter() - scheduled)

    start = time.perf_counter() + 0.2
    pending: set[asyncio.Task[None]] = set()
    dropped = 0
    for i in range(total):  # spawn each request at its scheduled time (no backlog of sleeping tasks)
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(pending) >= max_inflight:  # the service is saturated: do not pile up more
            dropped += 1
            continue
        task = asyncio.create_task(one(i, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    elapsed = time.perf_counter() - start
    for connection in idle:
        connection.close()
    ms = np.array(latencies or [math.nan]) * 1000.0
    return {
        "requests": total, "sent": total - dropped, "dropped_saturated": dropped,
        "rate_target": rate, "rate_achieved": round(len(latencies) / elapsed, 1),
        "duration_s": round(elapsed, 2), "statuses": dict(statuses), "verdicts": dict(verdicts),
        "p50_ms": round(float(np.percentile(ms, 50)), 2), "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2), "max_ms": round(float(ms.max()), 2),
        "mean_ms": round(statistics.fmean(ms.tolist()), 2),
    }


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run the client on uvloop when it is installed (it is a dependency of ``tollgate serve``)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is installed with tollgate
        return asyncio.run(work)
    return uvloop.run(work)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60, max 600)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds at the same rate first, not counted")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument("--max-inflight", type=int, default=400,
                        help="requests outstanding at most; later ones are dropped and counted (saturation)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.workers)
        return 0
    if not (0 < args.rate <= 2000 and 0 < args.duration <= 600):
        parser.error("--rate must be in (0, 2000] and --duration in (0, 600]")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="tollgate-load-") as tmp:
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--workers", str(args.workers)],
                                  env={**os.environ, "PYTHONUNBUFFERED": "1", "TOLLGATE_BENCH_WORKDIR": tmp})
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                if server.poll() is not None or time.monotonic() > deadline:
                    print("server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.1)
            if args.warmup > 0:
                _run(_load("127.0.0.1", port, args.rate, args.warmup, args.timeout, args.max_inflight))
            load_before = os.getloadavg()[0]
            server_cpu, client_cpu = _tree_cpu(server.pid), time.process_time()
            report = _run(_load("127.0.0.1", port, args.rate, args.duration, args.timeout, args.max_inflight))
            server_cpu, client_cpu = _tree_cpu(server.pid) - server_cpu, time.process_time() - client_cpu
            answered = max(1, sum(report["verdicts"].values()))  # type: ignore[attr-defined]
            report["server_cpu_ms_per_request"] = round(server_cpu * 1000 / answered, 2)
            report["client_cpu_ms_per_request"] = round(client_cpu * 1000 / answered, 2)
            report["loadavg_1m_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    report["workers"] = args.workers
    report["cpus"] = os.cpu_count()
    print(f"POST /v1/judge/argo  {report['requests']} requests at {report['rate_achieved']}/s "
          f"(target {args.rate:g}/s): p50 {report['p50_ms']} ms, p90 {report['p90_ms']} ms, "
          f"p99 {report['p99_ms']} ms, max {report['max_ms']} ms; statuses {report['statuses']}; "
          f"verdicts {report['verdicts']}; dropped (saturated) {report['dropped_saturated']}; "
          f"server CPU {report['server_cpu_ms_per_request']} ms/request, "
          f"load average {report['loadavg_1m_before_after']}")
    print(json.dumps(report, sort_keys=True))
    ok = report["statuses"] == {"200": report["sent"]} and not report["dropped_saturated"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
