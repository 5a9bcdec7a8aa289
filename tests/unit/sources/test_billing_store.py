"""BillingStore: FOCUS ingest (real sample, spec examples, quirks, bad files) and cost cubes."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tollgate.errors import InputError, ParseError
from tollgate.sources.billing_store import BillingStore

DATA = Path(__file__).resolve().parents[3] / "../shared/data/focus"
SAMPLE = DATA / "focus_sample.csv"
SPEC = DATA / "spec-examples"


def _sample_sums(column: str) -> dict[str, float]:
    """Per-provider sums computed independently with the csv module."""
    sums: dict[str, float] = {}
    with SAMPLE.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            sums[row["ProviderName"]] = sums.get(row["ProviderName"], 0.0) + float(row[column])
    return sums


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BillingStore:
    """A memory store (rows in the table) and a file store (small files kept as converted Parquet parts)."""
    s = BillingStore(None if request.param == "memory" else tmp_path / "store" / "billing.duckdb")
    yield s
    s.close()


def test_real_sample_summary(store: BillingStore) -> None:
    summary = store.ingest([SAMPLE])
    doc = summary.to_dict()
    assert set(doc) == {"rows", "providers", "billing_periods", "charge_period", "warnings"}
    assert doc["rows"] == 1000
    assert doc["providers"] == ["AWS", "Microsoft", "Oracle"]
    assert doc["billing_periods"] == ["2024-09-01", "2024-10-01"]
    assert doc["charge_period"] == {"start": "2024-09-01T00:00:00Z", "end": "2024-10-01T00:00:00Z"}
    text = "\n".join(doc["warnings"])
    assert "'Id' is not a FOCUS column" in text
    assert "1000 row(s) with timestamps not in FOCUS form" in text
    assert "7 row(s) with enumerated values in non-spec casing" in text
    json.dumps(doc)  # serialisable as is


def test_sample_billed_cost_per_provider_matches_csv(store: BillingStore) -> None:
    store.ingest([SAMPLE])
    cube = store.cube(dims=("provider",), cost="billed")
    expected = _sample_sums("BilledCost")
    for provider, total in cube.totals_by("provider").items():
        assert total == pytest.approx(expected[provider], rel=1e-9)
    # hourly cube keeps the total: Microsoft's daily rows are spread over 24 hours
    hourly = store.cube(granularity="hour", dims=("provider",), cost="billed")
    assert hourly.total == pytest.approx(sum(expected.values()), rel=1e-9)
    ms = hourly.filter({"provider": "Microsoft"})
    assert len(set(ms.bucket.astype("datetime64[h]").astype(int) % 24)) == 24


def test_quirks_are_normalised(store: BillingStore) -> None:
    store.ingest([SAMPLE])
    con = store.connection
    freq = {r[0] for r in con.execute("SELECT DISTINCT ChargeFrequency FROM focus_rows").fetchall()}
    assert "Usage-based" not in freq and "Usage-Based" in freq
    assert con.execute("SELECT count(*) FROM focus_rows WHERE RegionId = 'NULL'").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM focus_rows WHERE ChargePeriodStart IS NULL").fetchone() == (0,)
    # custom column kept, Tags parsed as JSON
    assert con.execute('SELECT count("Id") FROM focus_rows').fetchone() == (1000,)
    tagged = con.execute("SELECT count(*) FROM focus_rows WHERE json_extract_string(Tags, '$.application') "
                         "IS NOT NULL").fetchone()
    assert tagged == (660,)
    cube = store.cube(dims=("tag:application",), cost="billed")
    assert "" in cube.values("tag:application") and len(cube.values("tag:application")) > 5


def test_reingest_is_idempotent(store: BillingStore, tmp_path: Path) -> None:
    first = store.ingest([SAMPLE])
    again = store.ingest([SAMPLE])
    assert again.rows == 0 and "already ingested" in again.warnings[0]
    assert again.files[0].already_ingested
    # same rows under another digest (gzip copy) are recognised row by row
    gz = tmp_path / "sample.csv.gz"
    with SAMPLE.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    third = store.ingest([gz])
    assert third.rows == 0
    assert third.files[0].rows_read == 1000 and third.files[0].duplicate_rows == 1000
    assert store.row_count() == first.rows == 1000


def test_parquet_and_csv_give_the_same_cube(store: BillingStore, tmp_path: Path) -> None:
    pq = tmp_path / "sample.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{SAMPLE}', nullstr=['NULL', ''])) TO '{pq}' (FORMAT parquet)")
    con.close()
    store.ingest([pq])
    other = BillingStore(None)
    other.ingest([SAMPLE])
    a = store.cube(dims=("provider", "service"), cost="billed")
    b = other.cube(dims=("provider", "service"), cost="billed")
    other.close()
    assert a.total == pytest.approx(b.total, rel=1e-9)
    assert a.totals_by("service") == pytest.approx(b.totals_by("service"), rel=1e-9)


@pytest.mark.parametrize("column", ["BilledCost", "EffectiveCost", "ChargePeriodStart"])
def test_missing_required_column_names_file_and_column(store: BillingStore, tmp_path: Path, column: str) -> None:
    bad = tmp_path / "bad.csv"
    with SAMPLE.open(newline="", encoding="utf-8") as fh, bad.open("w", newline="", encoding="utf-8") as out:
        reader = csv.DictReader(fh)
        fields = [f for f in reader.fieldnames or [] if f != column]
        writer = csv.DictWriter(out, fields, extrasaction="ignore")
        writer.writeheader()
        for row in reader:
            writer.writerow(row)
    with pytest.raises(InputError, match=rf"bad\.csv.*{column}"):
        store.ingest([bad])
    assert store.row_count() == 0


def test_unreadable_and_missing_files(store: BillingStore, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        store.ingest([tmp_path / "nope.csv"])
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ParseError, match="junk.parquet"):
        store.ingest([junk])


def test_focus_13_service_provider_name(store: BillingStore, tmp_path: Path) -> None:
    f = tmp_path / "focus13.csv"
    f.write_text(
        "ServiceProviderName,HostProviderName,BilledCost,EffectiveCost,ChargePeriodStart,ChargePeriodEnd,"
        "ChargeCategory,x_Team\n"
        "Contoso,Microsoft,5,4,2025-12-01T00:00:00Z,2025-12-02T00:00:00Z,usage,payments\n",
        encoding="utf-8",
    )
    summary = store.ingest([f])
    assert summary.providers == ("Contoso",)
    assert store.connection.execute('SELECT ProviderName, "x_Team", ChargeCategory FROM focus_rows').fetchone() == (
        "Contoso", "payments", "Usage")
    cube = store.cube(dims=("provider", "x_Team"))
    assert cube.total == 4.0 and cube.values("x_Team") == ("payments",)


def _spec(name: str) -> list[Path]:
    return sorted(SPEC.rglob(name))


def test_amortisation_zero_percent_utilisation() -> None:
    """Spec example: a 1.50 commitment unused. Billed on the purchase, amortised on the unused usage row."""
    with BillingStore(None) as store:
        store.ingest(_spec("zero_percent_utilization_without_commitment_discount_flexibility.csv"))
        billed = store.cube(dims=("charge_category",), cost="billed").totals_by("charge_category")
        effective = store.cube(dims=("charge_category",)).totals_by("charge_category")
        assert billed["Purchase"] == pytest.approx(1.5) and effective.get("Purchase", 0.0) == 0.0
        assert effective["Usage"] == pytest.approx(1.5 + 2.0)  # unused commitment + on-demand medium VM
        assert sum(billed.values()) == pytest.approx(sum(effective.values()))
        assert not any(": commitment " in w for w in store.summary().warnings)


def test_commitment_imbalance_is_reported(tmp_path: Path) -> None:
    src = _spec("zero_percent_utilization_without_commitment_discount_flexibility.csv")[0]
    text = src.read_text(encoding="utf-8").replace(",0.00,1.50,1.00,Hour", ",0.00,1.20,1.00,Hour")
    bad = tmp_path / "imbalanced.csv"
    bad.write_text(text, encoding="utf-8")
    with BillingStore(None) as store:
        warnings = store.ingest([bad]).warnings
    assert any("imbalanced.csv: commitment <my-commitment-discount-id>" in w for w in warnings)


def test_monthly_rows_spread_over_days() -> None:
    with BillingStore(None) as store:
        summary = store.ingest(_spec("simple_saas_agreements_c.csv"))
        assert any("currency symbols" in w for w in summary.warnings)
        dates, values = store.cube(dims=(), cost="billed").total_series()
        assert str(dates[0]) == "2025-04-01" and str(dates[-1]) == "2025-06-30"
        assert values[0] == pytest.approx(10100 / 30)
        assert values[30] == pytest.approx(13000 / 31)
        assert values.sum() == pytest.approx(10100 + 13000 + 12700)


def test_store_file_persists_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "b" / "billing.duckdb"
    with BillingStore(path) as store:
        store.ingest([SAMPLE])
    with BillingStore(path) as store:
        summary = store.summary()
        assert summary.rows == 1000 and len(summary.files) == 1
        assert any("'Id'" in w for w in summary.warnings)
        assert store.ingest([SAMPLE]).rows == 0


def test_cube_filters_window_and_unknown_dimension(store: BillingStore) -> None:
    store.ingest([SAMPLE])
    cube = store.cube(start="2024-09-10", end="2024-09-12", dims=("provider", "region"),
                      filters={"provider": ["AWS", "Oracle"]}, cost="billed")
    assert set(cube.values("provider")) <= {"AWS", "Oracle"}
    assert str(cube.bucket.min()) >= "2024-09-10" and str(cube.bucket.max()) == "2024-09-11"
    with pytest.raises(InputError, match="unknown cost dimension 'colour'"):
        store.cube(dims=("colour",))
