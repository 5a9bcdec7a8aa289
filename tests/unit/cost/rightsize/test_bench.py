"""Trace generator, replay scoring and the `bench rightsize` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from tollgate.cli.bench_rightsize import bench_rightsize_command, read_trace_file
from tollgate.cost.rightsize.bench import ideal, replay, run_bench
from tollgate.cost.rightsize.traces import KINDS, make_trace, make_traces, trace_from_samples
from tollgate.errors import ParseError
from tollgate.model.rightsize import ResourceValues

MIB = 2.0**20


def test_traces_are_deterministic_and_cover_every_kind() -> None:
    first, again = make_traces(3, 2), make_traces(3, 2)
    assert [t.kind for t in first] == [k for k in KINDS for _ in range(2)]
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.cpu, b.cpu) and np.array_equal(a.memory, b.memory)
    assert not np.array_equal(first[0].cpu, make_traces(4, 2)[0].cpu)
    trace = first[0]
    assert trace.times.size == 21 * 288  # 21 days at 5 min
    usage = trace.train_usage()
    assert usage.cpu_samples == 14 * 288
    assert trace.original.cpu_request is not None and trace.original.cpu_request > float(np.quantile(trace.cpu, 0.95))


def test_leak_grows_and_startup_has_starts() -> None:
    leak = next(t for t in (make_trace("leak", s) for s in range(10)) if not t.starts)
    days = leak.memory.reshape(21, -1).max(axis=1)
    assert days[-1] > days[0] * 1.15
    startup = make_trace("startup", 1)
    assert len(startup.starts) >= 5
    usage = startup.train_usage()
    assert usage.pods[0].started_at and all(s < startup.split for s in usage.pods[0].started_at)


def test_replay_counts_oom_kills_throttling_and_contention() -> None:
    times = np.arange(0, 2 * 86400, 3600.0)  # hourly, 2 days
    memory = np.full(times.size, 100 * MIB)
    memory[30:33] = 300 * MIB  # one excursion of three hours in the test day
    memory[40] = 300 * MIB  # and a second one after memory fell back
    cpu = np.full(times.size, 0.2)
    cpu[24:30] = 1.0  # 6 of 24 test hours above 0.5 cores
    trace = trace_from_samples("t", times, cpu, memory, ResourceValues(1.0, 2.0, 400 * MIB, 400 * MIB),
                               train_days=1)
    scored = replay("x", trace, ResourceValues(0.5, 0.8, 200 * MIB, 200 * MIB))
    assert scored.oom_kills == 2
    assert scored.throttled == pytest.approx(6 / 24)
    assert scored.contention == pytest.approx(6 / 24)
    assert scored.cpu_saved == pytest.approx(0.5)
    assert scored.memory_saved == pytest.approx(200 * MIB)
    kept = replay("x", trace, None)  # no recommendation: the original stays
    assert kept.oom_kills == 0 and kept.cpu_saved == 0 and not kept.recommended
    best = ideal(trace)
    assert best.memory_limit == 300 * MIB


def test_safe_beats_krr_on_memory_without_more_oom_kills() -> None:
    result = run_bench(make_traces(11, 4))
    rows = {row["strategy"]: row for row in result["summary"]}
    assert set(rows) == {"krr-plain", "krr-simple", "vpa", "safe", "ideal"}
    assert rows["ideal"]["oom_kills"] == 0
    assert rows["safe"]["oom_kills"] <= rows["krr-plain"]["oom_kills"]
    assert rows["safe"]["memory_saved_pct"] > rows["krr-plain"]["memory_saved_pct"] - 1.0
    leak = {row["strategy"]: row for row in result["by_kind"]["leak"]}
    assert leak["safe"]["oom_kills"] <= leak["krr-plain"]["oom_kills"]
    assert rows["krr-plain"]["contention_pct"] == pytest.approx(5.0, abs=1.5)  # p95 request: ~5 % above


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(bench_rightsize_command)
    return app


def test_command_json_and_table() -> None:
    runner = CliRunner()
    done = runner.invoke(_app(), ["--per-kind", "1", "--format", "json", "--strategies", "safe"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert [r["strategy"] for r in data["summary"]] == ["krr-plain", "safe", "ideal"]
    assert data["traces"] == len(KINDS) and "replays" not in data
    table = runner.invoke(_app(), ["--per-kind", "1"])
    assert table.exit_code == 0 and "krr-plain" in table.stdout and "OOM kills" in table.stdout


def test_recorded_traces_generic_and_bitbrains(tmp_path: Path) -> None:
    times = np.arange(0, 16 * 86400, 300.0)
    rng = np.random.default_rng(0)
    generic = tmp_path / "traces" / "web.csv"
    generic.parent.mkdir()
    lines = ["timestamp,cpu,memory"] + [f"{t:.0f},{0.3 + 0.05 * rng.random():.4f},{300 * MIB:.0f}" for t in times]
    generic.write_text("\n".join(lines) + "\n")
    vm = tmp_path / "traces" / "vm1.csv"
    header = ("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\t"
              "Memory capacity provisioned [KB];\tMemory usage [KB]")
    rows = [f"{1_376_314_846 + t:.0f};\t4;\t11704;\t{2926 * 0.1:.1f};\t2.5;\t8388608;\t{1048576 + 1000 * (t % 7):.0f}"
            for t in times]
    vm.write_text("\n".join([header, *rows]) + "\n")
    bitbrains = read_trace_file(vm, train_days=14)
    assert bitbrains.original.cpu_request == 4.0 and bitbrains.original.memory_request == 8388608 * 1024.0
    assert float(np.median(bitbrains.cpu)) == pytest.approx(0.1)
    assert read_trace_file(generic, train_days=14).original.cpu_request == pytest.approx(0.7, abs=0.02)
    done = CliRunner().invoke(_app(), ["--traces", str(tmp_path / "traces"), "--format", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["traces"] == 2
    short = tmp_path / "short.csv"
    short.write_text("timestamp,cpu,memory\n0,0.1,100\n300,0.1,100\n")
    with pytest.raises(ParseError, match="short.csv"):
        read_trace_file(short, train_days=14)
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,cpu,memory\n0,x,100\n")
    with pytest.raises(ParseError, match="bad.csv:2"):
        read_trace_file(bad, train_days=14)
