"""BillingStore file stores: clean Parquet kept as parts, the daily rollup, and stores from before both."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tollgate.model.series import DEFAULT_DIMS, CostCube
from tollgate.sources import billing_store
from tollgate.sources.billing_store import BillingStore, gzip_copy

DATA = Path(__file__).resolve().parents[3] / "../shared/data/focus"
SAMPLE = DATA / "focus_sample.csv"
SPEC = DATA / "spec-examples"


def _clean_parquet(tmp_path: Path, name: str = "clean.parquet", where: str = "true") -> Path:
    """The sample as a clean FOCUS Parquet file: converted values, in the CSV's column order."""
    out = tmp_path / name
    with BillingStore(None) as store:
        store.ingest([SAMPLE])
        con = store.connection
        with SAMPLE.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh))
        cols = ", ".join(f'"{c}"' for c in header)
        con.execute(f"COPY (SELECT {cols} FROM focus_rows WHERE {where}) TO '{out}' (FORMAT parquet)")  # noqa: S608
    return out


def _as_dict(cube: CostCube) -> dict[tuple[str, ...], float]:
    keys = zip(cube.bucket.astype(str), *(cube.dims[d] for d in cube.dims), strict=True)
    return {tuple(k): float(c) for k, c in zip(keys, cube.cost, strict=True)}


def _assert_same(a: CostCube, b: CostCube) -> None:
    da, db = _as_dict(a), _as_dict(b)
    assert da.keys() == db.keys()
    for key, value in da.items():
        assert value == pytest.approx(db[key], rel=1e-9, abs=1e-9), key
    assert a.other_currency_rows == b.other_currency_rows and a.currency == b.currency


def test_clean_parquet_is_kept_as_a_part(tmp_path: Path) -> None:
    pq = _clean_parquet(tmp_path)
    path = tmp_path / "s" / "billing.duckdb"
    with BillingStore(None) as reference:
        reference.ingest([SAMPLE])
        expected = reference.cube(dims=("provider", "service"), cost="billed")
        expected_rows = reference.summary()
    with BillingStore(path) as store:
        summary = store.ingest([pq])
        parts = list((tmp_path / "s" / "billing.duckdb.parts").glob("*.parquet"))
        assert [p.name for p in parts] == [f"part-{summary.files[0].digest}.parquet"]
        assert summary.rows == 1000 and summary.providers == expected_rows.providers
        assert summary.charge_start == expected_rows.charge_start and summary.charge_end == expected_rows.charge_end
        assert not any("casing" in w or "timestamps" in w for w in summary.warnings)  # nothing was normalised
        _assert_same(store.cube(dims=("provider", "service"), cost="billed"), expected)
        # the same rows from the CSV: the part's row identity (computed on demand) matches the table path's
        again = store.ingest([SAMPLE])
        assert again.files[0].duplicate_rows == 1000 and again.rows == 0
        assert store.row_count() == 1000
    pq.unlink()  # the part is a copy: the user's file is never read again
    with BillingStore(path, read_only=True) as store:
        assert store.row_count() == 1000
        tagged = store.connection.execute(
            "SELECT count(*) FROM focus_rows WHERE json_extract_string(Tags, '$.application') IS NOT NULL").fetchone()
        assert tagged is not None and tagged[0] > 0
        _assert_same(store.cube(dims=("provider", "service"), cost="billed"), expected)


def test_quirky_or_overlapping_parquet_goes_to_the_table(tmp_path: Path) -> None:
    quirky = tmp_path / "quirky.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{SAMPLE}', nullstr=['NULL', ''])) TO '{quirky}' (FORMAT parquet)")
    con.close()
    early = _clean_parquet(tmp_path, "early.parquet", "ChargePeriodStart < '2024-09-15'")
    path = tmp_path / "billing.duckdb"
    with BillingStore(path) as store:
        first = store.ingest([early])
        assert len(list(path.with_name("billing.duckdb.parts").glob("*.parquet"))) == 1
        # casing drift needs normalising, so the rows are converted into the table; once converted, the rows
        # the part holds are recognised by row identity and dropped
        second = store.ingest([quirky])
        assert any("non-spec casing" in w for w in second.warnings)
        assert 0 < first.rows < 1000
        assert second.files[0].duplicate_rows == first.rows and second.rows == 1000 - first.rows
        assert len(list(path.with_name("billing.duckdb.parts").glob("*.parquet"))) == 1
        # a clean file overlapping stored rows goes through the table too, deduplicated row by row
        full = _clean_parquet(tmp_path, "full.parquet")
        third = store.ingest([full])
        assert third.files[0].duplicate_rows == 1000 and third.rows == 0
        assert len(list(path.with_name("billing.duckdb.parts").glob("*.parquet"))) == 1
        assert store.row_count() == 1000


def _degenerate_csv(tmp_path: Path) -> Path:
    """Rows ending at or before their start, across midnights, with null ends, and in another currency."""
    f = tmp_path / "edge.csv"
    f.write_text(
        "ProviderName,ServiceName,BilledCost,EffectiveCost,ChargePeriodStart,ChargePeriodEnd,BillingCurrency\n"
        "P,a,1,1,2025-01-02T01:00:00Z,2025-01-01T23:00:00Z,USD\n"
        "P,a,2,2,2025-01-02T00:00:00Z,2025-01-02T00:00:00Z,USD\n"
        "P,b,3,3,2025-01-02T05:00:00Z,,USD\n"
        "P,b,4,4,2025-01-01T22:00:00Z,2025-01-02T02:00:00Z,USD\n"
        "P,c,5,5,2025-01-03T00:00:00Z,2025-01-04T00:00:00Z,EUR\n"
        "P,c,6,,2025-01-03T00:00:00Z,2025-01-04T00:00:00Z,USD\n",
        encoding="utf-8",
    )
    return f


@pytest.mark.parametrize("window", [(None, None), ("2025-01-02", None), (None, "2024-09-15"),
                                    ("2024-09-10", "2024-10-01"), ("2025-04-15", "2025-06-01")])
def test_rollup_cube_equals_row_cube(tmp_path: Path, window: tuple[str | None, str | None]) -> None:
    # a clean Parquet part, the sample overlapping it (table, deduplicated), converted parts
    early = _clean_parquet(tmp_path, "early.parquet", "ChargePeriodStart < '2024-09-15'")
    files = [early, SAMPLE, *sorted(SPEC.rglob("simple_saas_agreements_c.csv")), _degenerate_csv(tmp_path)]
    start, end = window
    with BillingStore(tmp_path / "b.duckdb") as store:
        store.ingest(files)
        kinds = {p.name.split("-")[0] for p in (tmp_path / "b.duckdb.parts").glob("*.parquet")}
        assert kinds == {"part", "conv"}
        assert store.connection.execute("SELECT count(*) FROM focus_base").fetchone() != (0,)
        asks = [{"dims": DEFAULT_DIMS}, {"dims": ("provider", "tag:application", "tag:app")},
                {"dims": ("service",), "filters": {"tag:application": ["BrightPathMatrix", "ZoomMapMax"]}},
                {"dims": ("provider",), "cost": "billed"},
                {"dims": ("service", "region"), "filters": {"provider": ["AWS", "P"]}, "cost": "list"},
                {"dims": (), "currency": "EUR"}, {"dims": ("charge_category",), "filters": {"sub_account": "x"}}]
        for ask in asks:
            from_rollup = store.cube(start=start, end=end, **ask)  # type: ignore[arg-type]
            store._has_rollup = False  # the same question answered from the rows
            from_rows = store.cube(start=start, end=end, **ask)  # type: ignore[arg-type]
            store._has_rollup = True
            _assert_same(from_rollup, from_rows)
        assert store.cube(dims=()).total > 0


def test_store_written_before_parts_and_rollup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.duckdb"
    monkeypatch.setattr(billing_store, "CONVERTED_PART_MAX_BYTES", -1)  # every row into the table, as before
    with BillingStore(path) as store:
        store.ingest([SAMPLE])
        expected = store.cube(dims=("provider",), cost="billed")
    con = duckdb.connect(str(path))  # turn it into the layout of the previous version
    con.execute("ALTER TABLE focus_base RENAME TO focus_rows")
    con.execute("DROP TABLE focus_daily")
    con.execute("ALTER TABLE focus_files DROP COLUMN part")
    con.execute("ALTER TABLE focus_files DROP COLUMN part_sql")
    for column in ("span_lo", "span_hi", "null_starts"):
        con.execute(f"ALTER TABLE focus_files DROP COLUMN {column}")
    con.close()
    with BillingStore(path, read_only=True) as store:
        _assert_same(store.cube(dims=("provider",), cost="billed"), expected)
    with BillingStore(path) as store:  # opened for writing: migrated, rollup rebuilt from the rows
        assert store.connection.execute("SELECT count(*) FROM focus_base").fetchone() == (1000,)
        assert store.connection.execute("SELECT sum(n) FROM focus_daily").fetchone() == (1000,)
        _assert_same(store.cube(dims=("provider",), cost="billed"), expected)
        assert store.ingest([SAMPLE]).rows == 0
        # the old file's span is unknown, so a copy under another digest is still compared row by row
        gz = tmp_path / "sample.csv.gz"
        gzip_copy(SAMPLE, gz)
        again = store.ingest([gz])
        assert again.rows == 0 and again.files[0].duplicate_rows == 1000
    assert np.isclose(expected.total, sum(expected.totals_by("provider").values()))


def test_small_csv_becomes_a_converted_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "billing.duckdb"
    parts = path.with_name("billing.duckdb.parts")
    with BillingStore(path) as store:
        summary = store.ingest([SAMPLE])
        assert [p.name for p in parts.glob("*.parquet")] == [f"conv-{summary.files[0].digest}.parquet"]
        text = "\n".join(summary.warnings)
        assert "7 row(s) with enumerated values in non-spec casing" in text
        assert "1000 row(s) with timestamps not in FOCUS form" in text
    with BillingStore(path, read_only=True) as store:
        con = store.connection
        assert con.execute("SELECT count(*) FROM focus_rows WHERE _tg_flags & 1 <> 0").fetchone() == (7,)
        freq = {r[0] for r in con.execute("SELECT DISTINCT ChargeFrequency FROM focus_rows").fetchall()}
        assert "Usage-based" not in freq and "Usage-Based" in freq
        assert store.summary().warnings == summary.warnings
    # above the size limit a file needing conversions goes into the table
    monkeypatch.setattr(billing_store, "CONVERTED_PART_MAX_BYTES", SAMPLE.stat().st_size - 1)
    with BillingStore(tmp_path / "big.duckdb") as store:
        assert store.ingest([SAMPLE]).rows == 1000
        assert store.connection.execute("SELECT count(*) FROM focus_base").fetchone() == (1000,)
    assert not tmp_path.joinpath("big.duckdb.parts").exists() or not list(
        tmp_path.joinpath("big.duckdb.parts").glob("*.parquet"))


def test_appends_of_new_days_do_not_open_stored_parts(tmp_path: Path) -> None:
    """Spans recorded per file answer the overlap check; the view over every part is bound only for row queries."""
    header = "ProviderName,ServiceName,BilledCost,EffectiveCost,ChargePeriodStart,ChargePeriodEnd,Tags\n"
    path = tmp_path / "billing.duckdb"
    for day in range(1, 6):
        f = tmp_path / f"day{day}.csv"
        stamp = f"2025-03-0{day}T"
        rows = [f'P,s{h % 3},1.5,{h},{stamp}{h:02d}:00:00Z,{stamp}{h:02d}:59:59Z,"{{""app"": ""a{h % 2}""}}"'
                for h in range(24)]
        f.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
        with BillingStore(path) as store:
            summary = store.ingest([f])
            assert summary.rows == 24 and summary.charge_start is not None and summary.charge_start.day == day
            assert not store._view_ready  # no stored part was opened
            assert store.cube(dims=("tag:app",)).totals_by("tag:app") == {
                "a1": pytest.approx(day * sum(range(1, 24, 2))), "a0": pytest.approx(day * sum(range(0, 24, 2)))}
    with BillingStore(path) as store:
        assert store.row_count() == 120 and store._view_ready
        hourly = store.cube(granularity="hour", dims=("service",), cost="billed")
        assert len(hourly.dates()) == 5 * 24 and hourly.total == pytest.approx(120 * 1.5)
        again = store.ingest([tmp_path / "day3.csv"])
        assert again.files[0].already_ingested
