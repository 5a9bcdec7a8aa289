"""``tollgate bench rightsize``: replay each rightsizing strategy's recommendation on usage traces.

Generated traces (steady, diurnal, bursty, leak, jvm, startup; seeded) by default, or recorded traces from
``--traces DIR``: CSV files with ``timestamp,cpu,memory`` (unix seconds, cores, bytes; optional
``cpu_request``/``memory_request`` columns give the original requests, else p95 CPU x 2 and peak memory
x 1.5 of the training part stand in), or Bitbrains GWA-T-12 VM files (``;``-separated, ``CPU usage
[MHZ]``, ``Memory usage [KB]``, provisioned capacities as the original requests).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from tollgate.cli.output import emit, err_console
from tollgate.cost.rightsize import STRATEGIES
from tollgate.cost.rightsize.bench import BASELINE, DEFAULT_RUNS, run_bench
from tollgate.cost.rightsize.common import DAY
from tollgate.cost.rightsize.traces import KINDS, Trace, make_traces, trace_from_samples
from tollgate.errors import InputError, ParseError
from tollgate.model.rightsize import ResourceValues


class _Frame:
    """Columns of a small CSV file as float arrays, looked up by lower-cased header."""

    def __init__(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ParseError(str(path), f"cannot be read: {exc}") from None
        header = text.split("\n", 1)[0]
        delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)]
        if not rows:
            raise ParseError(str(path), "empty file", line=1)
        self.names = [h.strip().lower() for h in rows[0]]
        self.path = path
        self.columns: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
        values = np.full((len(rows) - 1, len(self.names)), np.nan)
        for i, row in enumerate(rows[1:]):
            if len(row) != len(self.names):
                raise ParseError(str(path), f"expected {len(self.names)} fields, found {len(row)}", line=i + 2)
            for j, cell in enumerate(row):
                try:
                    values[i, j] = float(cell)
                except ValueError:
                    raise ParseError(str(path), f"{self.names[j]}: {cell.strip()!r} is not a number",
                                     line=i + 2) from None
        for j, name in enumerate(self.names):
            self.columns[name] = values[:, j]

    def get(self, *names: str) -> np.ndarray[Any, np.dtype[np.float64]] | None:
        for name in names:
            if name in self.columns:
                return self.columns[name]
        return None


def read_trace_file(path: Path, *, train_days: float) -> Trace:
    """One recorded trace (generic CSV or Bitbrains); ParseError naming the file on bad content."""
    frame = _Frame(path)
    times = frame.get("timestamp", "timestamp [ms]", "time")
    if times is None:
        raise ParseError(str(path), "no timestamp column", line=1)
    if times.size and np.nanmedian(times) > 1e11:  # milliseconds
        times = times / 1000.0
    train = times < np.nanmin(times) + train_days * DAY if times.size else np.zeros(0, dtype=bool)
    usage_mhz = frame.get("cpu usage [mhz]")
    if usage_mhz is not None:  # Bitbrains GWA-T-12
        cores = frame.get("cpu cores")
        capacity = frame.get("cpu capacity provisioned [mhz]")
        memory_kb = frame.get("memory usage [kb]")
        memory_cap = frame.get("memory capacity provisioned [kb]")
        if cores is None or capacity is None or memory_kb is None or memory_cap is None:
            raise ParseError(str(path), "Bitbrains file lacks CPU cores, capacities or memory usage", line=1)
        per_core = np.where(cores > 0, capacity / np.maximum(cores, 1e-9), np.nan)
        cpu = usage_mhz / per_core
        memory = memory_kb * 1024.0
        mem_request = float(np.nanmax(memory_cap)) * 1024.0
        original = ResourceValues(float(np.nanmax(cores)), None, mem_request, mem_request)
    else:
        cpu_col, memory_col = frame.get("cpu", "cpu_cores"), frame.get("memory", "memory_bytes")
        if cpu_col is None or memory_col is None:
            raise ParseError(str(path), "expected columns timestamp,cpu,memory (or a Bitbrains file)", line=1)
        cpu, memory = cpu_col, memory_col
        req_cpu, req_mem = frame.get("cpu_request"), frame.get("memory_request")
        cpu_request = float(req_cpu[0]) if req_cpu is not None and req_cpu.size else (
            float(np.nanquantile(cpu[train], 0.95)) * 2.0 if train.any() else 1.0)
        mem_request = float(req_mem[0]) if req_mem is not None and req_mem.size else (
            float(np.nanmax(memory[train])) * 1.5 if train.any() else 2.0**30)
        original = ResourceValues(cpu_request, None, mem_request, mem_request)
    try:
        return trace_from_samples(path.stem, times, cpu, memory, original, train_days=train_days)
    except ValueError as exc:
        raise ParseError(str(path), str(exc)) from None


def _runs(strategies: str | None) -> dict[str, tuple[str, dict[str, Any]]]:
    if not strategies:
        return dict(DEFAULT_RUNS)
    runs: dict[str, tuple[str, dict[str, Any]]] = {BASELINE: DEFAULT_RUNS[BASELINE]}
    for name in (s.strip() for s in strategies.split(",") if s.strip()):
        if name not in STRATEGIES and name not in DEFAULT_RUNS:
            raise InputError(f"--strategies: unknown strategy {name!r}; choose from {', '.join(sorted(STRATEGIES))}")
        runs[name] = DEFAULT_RUNS.get(name, (name, {}))
    return runs


def _table(result: dict[str, Any]) -> str:
    console = Console(record=True, width=140, file=io.StringIO())
    table = Table(title=f"rightsize bench: {result['traces']} traces, baseline {result['baseline']}")
    for header in ("strategy", "CPU saved", "memory saved", "$/month saved", "OOM kills", "traces w/ OOM",
                   "throttled %", "contention %", "no rec."):
        table.add_column(header, justify="left" if header == "strategy" else "right")
    for row in result["summary"]:
        table.add_row(row["strategy"], f"{row['cpu_saved_cores']:.2f} cores ({row['cpu_saved_pct']:.1f}%)",
                      f"{row['memory_saved_gib']:.2f} GiB ({row['memory_saved_pct']:.1f}%)",
                      f"{row['monthly_saved']:.2f}", str(row["oom_kills"]), str(row["traces_with_oom"]),
                      f"{row['throttled_pct']:.2f}", f"{row['contention_pct']:.2f}", str(row["no_recommendation"]))
    console.print(table)
    kinds = Table(title="by trace kind: memory saved % / CPU saved % / OOM kills")
    kinds.add_column("kind")
    labels = [row["strategy"] for row in result["summary"]]
    for label in labels:
        kinds.add_column(label, justify="right")
    for kind, rows in result["by_kind"].items():
        kinds.add_row(kind, *(f"{r['memory_saved_pct']:.1f} / {r['cpu_saved_pct']:.1f} / {r['oom_kills']}"
                              for r in rows))
    console.print(kinds)
    return console.export_text()


def bench_rightsize_command(
    seed: Annotated[int, typer.Option(help="Seed of the generated traces.")] = 7,
    per_kind: Annotated[int, typer.Option(help="Generated traces per kind (" + ", ".join(KINDS) + ").")] = 10,
    train_days: Annotated[float, typer.Option(help="Days of history the strategies see.")] = 14.0,
    test_days: Annotated[float, typer.Option(help="Days the recommendation is replayed on.")] = 7.0,
    step: Annotated[float, typer.Option(help="Sample step of generated traces (seconds).")] = 300.0,
    strategies: Annotated[str | None, typer.Option(help="Comma-separated strategies (default: all, "
                                                    "beside the krr-plain baseline).")] = None,
    traces: Annotated[Path | None, typer.Option("--traces", help="Directory of recorded traces (*.csv) "
                                                "to replay instead of generated ones.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    output: Annotated[Path | None, typer.Option(help="Write the result here instead of stdout.")] = None,
) -> None:
    """Replay each strategy's recommendation on usage traces: savings, OOM kills, throttling, contention."""
    if fmt not in ("table", "json"):
        raise InputError(f"--format: {fmt!r} is not table or json")
    if traces is not None:
        files = sorted(p for p in traces.rglob("*.csv") if p.is_file())
        if not files:
            raise InputError(f"--traces: no *.csv files under {traces}")
        loaded = []
        for path in files:
            try:
                loaded.append(read_trace_file(path, train_days=train_days))
            except ParseError as exc:
                err_console.print(f"skipped {exc}")
        if not loaded:
            raise InputError(f"--traces: none of the {len(files)} files under {traces} is usable")
        chosen = loaded
    else:
        chosen = make_traces(seed, per_kind, train_days=train_days, test_days=test_days, step=step)
    window = f"{train_days:g}d" if float(train_days).is_integer() else f"{int(train_days * 24)}h"
    result = run_bench(chosen, _runs(strategies), window=window)
    if fmt == "json":
        result.pop("replays")
        emit(json.dumps(result, indent=2) + "\n", output)
    else:
        emit(_table(result), output)
