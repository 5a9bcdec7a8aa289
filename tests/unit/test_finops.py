"""finops orchestration: anomalies with root causes, ranked ledger changes, feedback muting, budgets, plots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from tollgate.errors import NotFoundError
from tollgate.finops import (
    AnomalyQuery,
    anomaly_to_dict,
    find_anomalies,
    forecast_budgets,
    forecast_scopes,
    record_feedback,
)
from tollgate.ledger.chain import seal
from tollgate.ledger.memory import InMemoryLedger
from tollgate.model.finops import Budget, BudgetPeriod
from tollgate.model.ledger import GENESIS_HASH, DecisionDraft, digest_inputs
from tollgate.model.series import CostCube
from tollgate.render.plots import plot_anomaly, plot_budget
from tollgate.sources.billing_store import FakeBillingStore

FIRST = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
DAYS = 100
ONSET = 92
DIMS = ("provider", "service", "sub_account", "region", "resource_id", "charge_category", "tag:app",
        "tag:application")

RESOURCES = [
    # provider, service, account, region, resource, app tag, $/day
    ("AWS", "Amazon EC2", "111", "us-east-1", "i-checkout-1", "checkout", 800.0),
    ("AWS", "Amazon EC2", "111", "us-east-1", "i-search-1", "search", 1200.0),
    ("AWS", "Amazon S3", "222", "us-east-1", "bucket-logs", "", 300.0),
    ("Microsoft", "Virtual Machines", "sub-1", "westeurope", "vm-billing", "billing", 900.0),
]


def cube(jump: float = 700.0) -> CostCube:
    rng = np.random.default_rng(42)
    n = len(RESOURCES) * DAYS
    bucket = np.empty(n, dtype="datetime64[D]")
    cost = np.empty(n)
    cols: dict[str, list[str]] = {d: [] for d in DIMS}
    i = 0
    for day in range(DAYS):
        for p, s, a, r, res, app, base in RESOURCES:
            bucket[i] = np.datetime64(FIRST.date()) + day
            value = base * (0.6 if day % 7 >= 5 else 1.0) * (1 + 0.02 * rng.standard_normal())
            if res == "i-checkout-1" and day >= ONSET:
                value += jump
            cost[i] = value
            for d, v in zip(DIMS, (p, s, a, r, res, "Usage", app, ""), strict=True):
                cols[d].append(v)
            i += 1
    return CostCube(bucket, {d: np.array(v, dtype=object) for d, v in cols.items()}, cost)


def review(app: str, at: datetime, *, delta: float, seq: int, prev: str, name: str | None = None):  # noqa: ANN201
    payload = {"cost": {"currency": "USD", "monthly_delta": delta},
               "changes": [{"kind": "Deployment", "namespace": "shop", "name": name or app}],
               "refs": {"head_commit": f"{seq:040x}"}, "apps": [app]}
    draft = DecisionDraft(kind="review", environment="production", verdict="pass",
                          subject={"repo": "/r", "base": "main", "head": f"pr-{seq}"},
                          inputs_digest=digest_inputs({"n": str(seq)}), payload=payload, app=app)
    return seal(draft, seq=seq, prev_hash=prev, now_ns=int(at.timestamp() * 1e9))


def ledger_with_deploys() -> InMemoryLedger:
    onset = FIRST + timedelta(days=ONSET)
    rows = []
    prev = GENESIS_HASH
    for seq, (app, hours_before, delta) in enumerate(
        [("search", 20, 0.0), ("checkout", 30, 21000.0), ("billing", 5, 50.0), ("checkout", 24 * 10, 0.0)], 1
    ):
        row = review(app, onset - timedelta(hours=hours_before), delta=delta, seq=seq, prev=prev)
        rows.append(row)
        prev = row.hash
    return InMemoryLedger(sorted(rows, key=lambda r: r.seq))


def test_anomaly_names_resource_and_the_deploy_that_caused_it() -> None:
    store = FakeBillingStore(cube())
    (anomaly,) = find_anomalies(store, ledger_with_deploys(), AnomalyQuery(min_impact=200, min_pct=5))
    assert dict(anomaly.scope) == {"provider": "AWS", "service": "Amazon EC2"}
    assert anomaly.start == FIRST + timedelta(days=ONSET)
    assert anomaly.ongoing and anomaly.impact == pytest.approx(700 * (DAYS - ONSET), rel=0.1)
    causes = {(c.dimension, c.value) for c in anomaly.root_causes}
    assert {("resource_id", "i-checkout-1"), ("tag:app", "checkout")} <= causes
    assert ("resource_id", "i-search-1") not in causes
    # The checkout deploy 30 h before (with a recorded +21,000/month) ranks first; the one 10 days
    # before is outside the 3-day window.
    first = anomaly.likely_changes[0]
    assert first.app == "checkout" and first.commit == f"{2:040x}"
    assert [c.app for c in anomaly.likely_changes].count("checkout") == 1
    assert {c.app for c in anomaly.likely_changes} == {"checkout", "search", "billing"}
    data = anomaly_to_dict(anomaly)
    assert list(data) == ["id", "start", "end", "scope", "expected", "actual", "impact", "impact_pct", "severity",
                          "root_causes", "likely_changes"]
    assert data["start"] == "2025-04-08"
    assert set(data["likely_changes"][0]) == {"decision_id", "commit", "app", "at"}
    json.dumps(data)


def test_feedback_mutes_the_anomaly_and_its_repeats() -> None:
    store = FakeBillingStore(cube())
    ledger = InMemoryLedger()
    query = AnomalyQuery(min_impact=200, min_pct=5)
    (anomaly,) = find_anomalies(store, ledger, query)
    record = record_feedback(store, ledger, anomaly.id, "planned", actor="alice")
    assert record.kind == "cost-feedback" and record.verdict == "planned" and record.actor == "alice"
    assert find_anomalies(store, ledger, query) == []
    (muted,) = find_anomalies(store, ledger, AnomalyQuery(min_impact=200, min_pct=5, include_muted=True))
    assert muted.id == anomaly.id and muted.muted and muted.feedback == "planned"
    # "yes" afterwards: the latest feedback wins and the anomaly is shown again.
    record_feedback(store, ledger, anomaly.id, "yes")
    (again,) = find_anomalies(store, ledger, query)
    assert again.feedback == "yes" and not again.muted
    with pytest.raises(NotFoundError):
        record_feedback(store, ledger, "0" * 16, "no")


def test_budgets_forecast_per_scope() -> None:
    store = FakeBillingStore(cube(jump=0.0))
    ec2 = Budget("ec2", {"provider": "AWS", "service": "Amazon EC2"}, amount=40000.0, owner="team")
    azure = Budget("azure", {"provider": "Microsoft"}, amount=100000.0, period=BudgetPeriod.QUARTERLY)
    s_ec2, s_azure = forecast_budgets(store, [ec2, azure])
    # EC2 ~1,770/day on average: April's forecast ~53k, well over 40k.
    assert 48000 < s_ec2.forecast.forecast < 58000
    assert s_ec2.probability_of_breach > 0.95 and s_ec2.expected_breach_day is not None
    assert s_azure.forecast.period_end.isoformat() == "2025-06-30"
    assert s_azure.quarter is not None and s_azure.quarter.period_end.isoformat() == "2025-04-30"
    scopes = forecast_scopes(store)
    assert [f.name for f in scopes] == ["total", "provider AWS", "provider Microsoft"]
    assert scopes[0].month.forecast == pytest.approx(sum(f.month.forecast for f in scopes[1:]), rel=0.02)


def test_plots_render_svg_and_png() -> None:
    store = FakeBillingStore(cube())
    (anomaly,) = find_anomalies(store, ledger_with_deploys(), AnomalyQuery(min_impact=200, min_pct=5))
    svg = plot_anomaly(anomaly, "svg")
    assert svg.startswith(b"<?xml") and b"<svg" in svg
    assert b"checkout" in svg  # the linked change is labelled
    png = plot_anomaly(anomaly, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (status,) = forecast_budgets(store, [Budget("all", {}, amount=90000.0)])
    assert b"<svg" in plot_budget(status, "svg")


def test_cli_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tollgate.cli import cost_analysis

    store = FakeBillingStore(cube())
    ledger = ledger_with_deploys()

    monkeypatch.setattr(cost_analysis, "run_anomalies",
                        lambda _s, query, store=None, use_ledger=True: find_anomalies(FakeBillingStore(cube()),
                                                                                      ledger, query))
    app = typer.Typer()
    app.command("anomalies")(cost_analysis.cost_anomalies_command)
    app.command("forecast")(cost_analysis.cost_forecast_command)
    runner = CliRunner()
    result = runner.invoke(app, ["anomalies", "--format", "json", "--min-impact", "200", "--min-pct", "5",
                                 "--plot-dir", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert len(doc["anomalies"]) == 1 and doc["anomalies"][0]["likely_changes"][0]["app"] == "checkout"
    assert len(list((tmp_path / "plots").glob("anomaly-*.svg"))) == 1
    table = runner.invoke(app, ["anomalies", "--min-impact", "200", "--min-pct", "5"])
    assert table.exit_code == 0 and "i-checkout-1" in table.stdout

    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("- name: ec2\n  scope: {provider: AWS, service: Amazon EC2}\n  amount: 40000\n")
    monkeypatch.setattr(cost_analysis, "run_forecast",
                        lambda _s, budgets_file=None, store=None, level=0.9: (
                            forecast_budgets(FakeBillingStore(cube()), __import__("tollgate.cost.budgets",
                                             fromlist=["load_budgets"]).load_budgets(budgets_file), level=level),
                            []))
    fc = runner.invoke(app, ["forecast", "--budgets", str(budgets), "--format", "json"])
    assert fc.exit_code == 0, fc.output
    (row,) = json.loads(fc.stdout)["forecasts"]
    assert row["name"] == "ec2" and row["probability_of_breach"] > 0.9 and row["month"]["end"] == "2025-04-30"
    del store
