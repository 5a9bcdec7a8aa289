"""``tollgate bench focus [--rows N] [--days D] [--format json]``: the FOCUS scale benchmark.

One run generates synthetic FOCUS rows (``tollgate.cost.focus_synth``, hourly, three providers, commitments,
injected anomalies) as CSV and Parquet, then measures, beside a straightforward pandas pipeline:

(a) ingest of all columns from CSV into the DuckDB store vs ``pandas.read_csv`` of the same file (time and
    peak RSS, each in its own subprocess so the peak is its own, sampled with psutil), and from Parquet;
(b) daily series + anomaly scan over the ingested store vs pandas re-reading the CSV, grouping and scanning;
(c) appending one more day (a new CSV) to the store;
(d) recall of the injected anomalies by the scan, extra flags, and extra flags that start on a weekend
    (weekly seasonality mistaken for an anomaly).

The scan is ``tollgate.detect.cost_anomaly.scan`` (daily, levels total / provider / provider+service).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import psutil  # type: ignore[import-untyped]
import typer

from tollgate.cli.output import emit
from tollgate.cost.focus_synth import FocusSynth, InjectedAnomaly, SynthConfig
from tollgate.detect.cost_anomaly import scan
from tollgate.model.series import CostCube
from tollgate.sources.billing_store import BillingStore, write_focus_files

__all__ = ["bench_focus", "bench_focus_command", "match_anomalies"]

_DIMS = ("provider", "service")

_DUCKDB_CHILD = """
import json, sys, time
from tollgate.sources.billing_store import BillingStore
t = time.perf_counter()
with BillingStore(sys.argv[1], memory_limit=sys.argv[3]) as s:
    summary = s.ingest([sys.argv[2]])
print(json.dumps({"seconds": time.perf_counter() - t, "rows": summary.rows}))
"""

_PANDAS_READ_CHILD = """
import json, sys, time
import pandas as pd
t = time.perf_counter()
frame = pd.read_csv(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t, "rows": len(frame), "columns": frame.shape[1]}))
"""

_PANDAS_PIPELINE_CHILD = """
import json, sys, time
import numpy as np
import pandas as pd
from tollgate.cli.bench_focus import _scan
from tollgate.model.series import CostCube
t = time.perf_counter()
frame = pd.read_csv(sys.argv[1], usecols=["ChargePeriodStart", "ProviderName", "ServiceName", "EffectiveCost"])
frame["day"] = pd.to_datetime(frame["ChargePeriodStart"], utc=True).dt.tz_localize(None).dt.floor("D")
daily = frame.groupby(["day", "ProviderName", "ServiceName"], as_index=False)["EffectiveCost"].sum()
cube = CostCube(daily["day"].to_numpy().astype("datetime64[D]"),
                {"provider": daily["ProviderName"].to_numpy(dtype=object),
                 "service": daily["ServiceName"].to_numpy(dtype=object)},
                daily["EffectiveCost"].to_numpy(dtype=np.float64))
found, _ = _scan(cube)
print(json.dumps({"seconds": time.perf_counter() - t, "anomalies": len(found)}))
"""


def _run_measured(args: Sequence[str]) -> dict[str, Any]:
    """Run a Python child, sample its RSS with psutil every 20 ms; its JSON line plus ``peak_rss_mb``."""
    proc = subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0:
        return {"error": (err or out).strip().splitlines()[-1] if (err or out).strip() else "failed",
                "peak_rss_mb": round(peak / 2**20, 1)}
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(peak / 2**20, 1)
    return result


def _scan(cube: CostCube) -> tuple[list[Any], str]:
    """Anomalies of a daily cube and the name of the scanner used."""
    return list(scan(cube)), "tollgate.detect.cost_anomaly.scan"


def match_anomalies(truth: Sequence[InjectedAnomaly], found: Sequence[Any]) -> dict[str, Any]:
    """Recall of injected anomalies and the reported ones that match none.

    A report matches an injected anomaly when their days overlap and every dimension both scopes name
    agrees (a report on a wider scope, e.g. the provider, counts for a narrower injected one).
    """
    def naive(value: datetime) -> datetime:
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)

    def days(a_start: datetime, a_end: datetime, inclusive_end: bool) -> tuple[datetime, datetime]:
        a_start, a_end = naive(a_start), naive(a_end)
        lo = a_start.replace(hour=0, minute=0, second=0, microsecond=0)
        hi = a_end if inclusive_end else a_end - timedelta(microseconds=1)
        return lo, hi.replace(hour=0, minute=0, second=0, microsecond=0)

    def compatible(report: Any, injected: InjectedAnomaly) -> bool:
        r_lo, r_hi = days(report.start, report.end, True)
        t_lo, t_hi = days(injected.start, injected.end, False)
        if r_hi < t_lo or r_lo > t_hi:
            return False
        return all(injected.scope.get(k, v) == v for k, v in dict(report.scope).items())

    recovered = [t for t in truth if any(compatible(f, t) for f in found)]
    extra = [f for f in found if not any(compatible(f, t) for t in truth)]
    weekend = [f for f in extra if f.start.weekday() >= 5]
    return {
        "injected": len(truth),
        "recovered": len(recovered),
        "recall": round(len(recovered) / len(truth), 3) if truth else None,
        "reported": len(found),
        "extra_flags": len(extra),
        "extra_flags_starting_on_weekends": len(weekend),
        "missed": [t.to_dict() for t in truth if t not in recovered],
    }


_MANIFEST = "focus_manifest.json"


def _generate(workdir: Path, cfg: SynthConfig, memory_limit: str, reuse: bool) -> dict[str, Any]:
    """Write the CSV, Parquet and next-day files (or reuse them); their manifest with the injected truth.

    With ``reuse``, files are kept when the manifest beside them names the same rows, days, seed and
    anomaly count and every file is present; ``generate_seconds`` is then null.
    """
    csv, parquet, extra_day = workdir / "focus.csv", workdir / "focus.parquet", workdir / "focus_next_day.csv"
    params = {"rows_requested": cfg.rows, "days": cfg.days, "seed": cfg.seed, "anomalies": cfg.anomalies}
    manifest_path = workdir / _MANIFEST
    if reuse and manifest_path.is_file() and all(p.is_file() for p in (csv, parquet, extra_day)):
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("params") == params:
            return manifest | {"generate_seconds": None}
    manifest_path.unlink(missing_ok=True)
    synth = FocusSynth(cfg)
    t = time.perf_counter()
    n_rows = write_focus_files(synth.chunks(), csv=csv, parquet=parquet, memory_limit=memory_limit)
    generate_s = time.perf_counter() - t
    truth = [a.to_dict() for a in synth.truth()]
    write_focus_files(synth.chunks(first_day=cfg.days, days=1), csv=extra_day)
    manifest = {"params": params, "rows": n_rows, "resources": synth.resources, "truth": truth}
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest | {"generate_seconds": round(generate_s, 2)}


def _truth(records: Sequence[dict[str, Any]]) -> list[InjectedAnomaly]:
    return [InjectedAnomaly(r["kind"], datetime.fromisoformat(r["start"]), datetime.fromisoformat(r["end"]),
                            dict(r["scope"]), r["dimension"], r["value"], float(r["factor"]), float(r["impact"]))
            for r in records]


def bench_focus(rows: int, days: int, *, workdir: Path, seed: int = 7, anomalies: int = 8,
                memory_limit: str = "2GB", pandas: bool = True, reuse: bool = False) -> dict[str, Any]:
    """Run the whole benchmark in ``workdir`` and return the measurements (see the module doc).

    ``reuse`` keeps generated files of an earlier run with the same parameters; the stores are always
    made afresh.
    """
    cfg = SynthConfig(rows=rows, days=days, seed=seed, anomalies=anomalies,
                      warmup_days=min(35, max(days // 3, 1)))
    csv, parquet, extra_day = workdir / "focus.csv", workdir / "focus.parquet", workdir / "focus_next_day.csv"
    generated = _generate(workdir, cfg, memory_limit, reuse)
    truth = _truth(generated["truth"])

    result: dict[str, Any] = {
        "rows": generated["rows"], "days": days, "resources": generated["resources"], "seed": seed,
        "files_mb": {"csv": round(csv.stat().st_size / 2**20, 1), "parquet": round(parquet.stat().st_size / 2**20, 1)},
        "generate_seconds": generated["generate_seconds"],
    }
    store_csv, store_pq = workdir / "store_csv.duckdb", workdir / "store_parquet.duckdb"
    for store_file in (store_csv, store_pq):
        store_file.unlink(missing_ok=True)
        store_file.with_name(store_file.name + ".wal").unlink(missing_ok=True)
        shutil.rmtree(store_file.with_name(store_file.name + ".parts"), ignore_errors=True)  # Parquet parts
    ingest_csv = _run_measured([_DUCKDB_CHILD, str(store_csv), str(csv), memory_limit])
    ingest_pq = _run_measured([_DUCKDB_CHILD, str(store_pq), str(parquet), memory_limit])
    result["ingest"] = {"csv": ingest_csv, "parquet": ingest_pq}

    with BillingStore(store_pq, memory_limit=memory_limit) as store:
        t = time.perf_counter()
        cube = store.cube(granularity="day", dims=_DIMS)
        found, scanner = _scan(cube)
        series_s = time.perf_counter() - t
        t = time.perf_counter()
        appended = store.ingest([extra_day])
        append_s = time.perf_counter() - t
    result["series_scan"] = {"seconds": round(series_s, 3), "cube_rows": len(cube), "scanner": scanner}
    result["append_day"] = {"seconds": round(append_s, 3), "rows": appended.rows}
    result["anomalies"] = match_anomalies(truth, found)
    result["truth"] = [a.to_dict() for a in truth]

    targets: dict[str, bool | None] = {
        "parquet_ingest_under_15s": _ok(ingest_pq, lambda r: r["seconds"] < 15),
        "series_scan_under_2s": series_s < 2.0,
        "append_day_under_1s": append_s < 1.0,
    }
    if pandas:
        pd_read = _run_measured([_PANDAS_READ_CHILD, str(csv)])
        pd_pipe = _run_measured([_PANDAS_PIPELINE_CHILD, str(csv)])
        result["pandas"] = {"read_csv": pd_read, "series_scan_pipeline": pd_pipe}
        if "seconds" in pd_read and "seconds" in ingest_csv:
            result["ingest"]["csv_vs_pandas"] = {
                "speedup": round(pd_read["seconds"] / ingest_csv["seconds"], 2),
                "memory_share": round(ingest_csv["peak_rss_mb"] / max(pd_read["peak_rss_mb"], 1e-9), 3),
            }
            targets["csv_ingest_faster_than_pandas"] = ingest_csv["seconds"] < pd_read["seconds"]
            targets["csv_ingest_memory_le_25pct_of_pandas"] = ingest_csv["peak_rss_mb"] <= 0.25 * pd_read["peak_rss_mb"]
        if "seconds" in pd_pipe:
            speedup = pd_pipe["seconds"] / max(series_s, 1e-9)
            result["series_scan"]["speedup_vs_pandas"] = round(speedup, 1)
            targets["series_scan_10x_pandas"] = speedup >= 10
    result["targets"] = targets
    return result


def _ok(measure: dict[str, Any], test: Any) -> bool | None:
    return None if "seconds" not in measure else bool(test(measure))


def bench_focus_command(
    rows: Annotated[int, typer.Option(help="Synthetic FOCUS rows (approximate: whole resources x hours).")]
    = 10_000_000,
    days: Annotated[int, typer.Option(help="Days of hourly data.")] = 120,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    workdir: Annotated[Path | None, typer.Option(help="Keep the generated files and stores here.")] = None,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    memory_limit: Annotated[str, typer.Option(help="DuckDB memory limit.")] = "2GB",
    no_pandas: Annotated[bool, typer.Option("--no-pandas", help="Skip the pandas baseline.")] = False,
    reuse: Annotated[bool, typer.Option("--reuse", help="Keep files generated in --workdir with the same "
                                                         "rows/days/seed.")] = False,
) -> None:
    """FOCUS scale benchmark: DuckDB store vs pandas on generated data (see docs/benchmarks.md)."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        result = bench_focus(rows, days, workdir=workdir, seed=seed, memory_limit=memory_limit,
                             pandas=not no_pandas, reuse=reuse)
    else:
        with tempfile.TemporaryDirectory(prefix="tollgate-bench-focus-") as tmp:
            result = bench_focus(rows, days, workdir=Path(tmp), seed=seed, memory_limit=memory_limit,
                                 pandas=not no_pandas)
    if fmt == "json":
        emit(json.dumps(result, indent=2, default=str) + "\n")
        return
    made = "reused" if result["generate_seconds"] is None else f"generated in {result['generate_seconds']} s"
    lines = [f"{result['rows']:,} rows, {result['days']} days, CSV {result['files_mb']['csv']} MB, "
             f"Parquet {result['files_mb']['parquet']} MB ({made})"]
    for key, value in result["ingest"].items():
        lines.append(f"ingest {key}: {value}")
    if "pandas" in result:
        for key, value in result["pandas"].items():
            lines.append(f"pandas {key}: {value}")
    lines.append(f"series + scan: {result['series_scan']}")
    lines.append(f"append one day: {result['append_day']}")
    anomalies = {k: v for k, v in result["anomalies"].items() if k != "missed"}
    lines.append(f"anomalies: {anomalies}")
    lines.append(f"targets: {result['targets']}")
    emit("\n".join(lines) + "\n")
