"""``tollgate cost ingest`` through a small Typer app (as the lead registers it under ``cost``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tollgate.cli.cost_ingest import cost_ingest_command

DATA = Path(__file__).resolve().parents[3] / "../shared/data/focus"
SAMPLE = DATA / "focus_sample.csv"

app = typer.Typer()
cost = typer.Typer()
cost.command("ingest")(cost_ingest_command)
app.add_typer(cost, name="cost")
runner = CliRunner()


def test_json_summary_and_idempotent_rerun(tmp_path: Path) -> None:
    store = tmp_path / "billing.duckdb"
    result = runner.invoke(app, ["cost", "ingest", str(SAMPLE), "--store", str(store), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc) == ["rows", "providers", "billing_periods", "charge_period", "warnings"]
    assert doc["rows"] == 1000 and doc["providers"] == ["AWS", "Microsoft", "Oracle"]
    again = runner.invoke(app, ["cost", "ingest", str(SAMPLE), "--store", str(store), "--format", "json"])
    assert json.loads(again.stdout)["rows"] == 0


def test_default_store_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(app, ["cost", "ingest", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "billing.duckdb").is_file()
    assert "rows added: 1,000" in result.stdout
    assert "AWS, Microsoft, Oracle" in result.stdout
    assert "warning:" in result.stdout


def test_missing_billed_cost_exits_2_naming_column_and_file(tmp_path: Path) -> None:
    bad = tmp_path / "no_billed.csv"
    bad.write_text("ProviderName,EffectiveCost,ChargePeriodStart,ChargePeriodEnd\n"
                   "AWS,1.0,2025-01-01T00:00:00Z,2025-01-01T01:00:00Z\n", encoding="utf-8")
    result = runner.invoke(app, ["cost", "ingest", str(bad), "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2
    assert "BilledCost" in result.stderr and "no_billed.csv" in result.stderr
