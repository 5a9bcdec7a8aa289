"""End to end: FOCUS rows -> DuckDB billing store -> cost anomalies naming the resource and the deploy recorded
in the (SQLite) ledger -> feedback mutes it; budgets forecast over the same store; plots written."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from tollgate.cli.cost_analysis import cost_anomalies_command, cost_feedback_command, cost_forecast_command
from tollgate.ledger.store import Ledger
from tollgate.model.ledger import DecisionDraft, digest_inputs
from tollgate.sources.billing_store import BillingStore

pytestmark = pytest.mark.integration

COLUMNS = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency", "ChargeCategory",
           "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd", "ProviderName",
           "ServiceName", "SubAccountId", "RegionId", "ResourceId", "Tags"]
RESOURCES = [
    ("AWS", "Amazon Elastic Compute Cloud", "123456789012", "us-east-1", "i-0checkout", {"app": "checkout"}, 900.0),
    ("AWS", "Amazon Elastic Compute Cloud", "123456789012", "us-east-1", "i-0search", {"app": "search"}, 1400.0),
    ("AWS", "Amazon Simple Storage Service", "210987654321", "eu-west-1", "logs-bucket", {}, 350.0),
    ("Google Cloud", "Compute Engine", "shop-prod", "europe-west1", "gke-node-1", {"app": "frontend"}, 700.0),
]
DAYS = 70


def write_focus(path: Path, today: date, jump: float) -> None:
    rng = np.random.default_rng(12)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for back in range(DAYS - 1, -1, -1):
            day = today - timedelta(days=back)
            month = day.replace(day=1)
            nxt = (month + timedelta(days=32)).replace(day=1)
            for provider, service, account, region, resource, tags, base in RESOURCES:
                cost = base * (0.55 if day.weekday() >= 5 else 1.0) * (1 + 0.02 * rng.standard_normal())
                if resource == "i-0checkout" and back == 0:
                    cost += jump
                out.writerow([f"{cost:.4f}", f"{cost:.4f}", f"{cost * 1.2:.4f}", f"{cost:.4f}", "USD", "Usage",
                              f"{day}T00:00:00Z", f"{day + timedelta(days=1)}T00:00:00Z", f"{month}T00:00:00Z",
                              f"{nxt}T00:00:00Z", provider, service, account, region, resource,
                              json.dumps(tags) if tags else ""])


def record_deploy(ledger: Ledger, app: str, delta: float, commit: str) -> str:
    payload = {"cost": {"currency": "USD", "monthly_delta": delta},
               "changes": [{"kind": "Deployment", "namespace": "shop", "name": app, "change": "modified"}],
               "refs": {"head_commit": commit}, "apps": [app]}
    draft = DecisionDraft(kind="review", environment="production", verdict="pass",
                          subject={"repo": "/gitops", "base": "main", "head": f"pr/{app}"},
                          inputs_digest=digest_inputs({"head_commit": commit}), payload=payload, app=app)
    return ledger.append(draft).id


def test_anomaly_root_cause_change_feedback_and_forecast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(tmp_path / "data"))
    today = datetime.now(UTC).date()
    focus = tmp_path / "focus.csv"
    write_focus(focus, today, jump=2500.0)
    store_path = tmp_path / "billing.duckdb"
    with BillingStore(store_path) as store:
        summary = store.ingest([focus])
        assert summary.rows == DAYS * len(RESOURCES)

    (tmp_path / "data").mkdir()
    ledger = Ledger(f"sqlite:///{tmp_path / 'data' / 'ledger.db'}")
    try:
        record_deploy(ledger, "search", 0.0, "a" * 40)
        checkout_id = record_deploy(ledger, "checkout", 74000.0, "c0ffee" + "0" * 34)
    finally:
        ledger.close()

    app = typer.Typer()
    app.command("anomalies")(cost_anomalies_command)
    app.command("feedback")(cost_feedback_command)
    app.command("forecast")(cost_forecast_command)
    runner = CliRunner()
    plots = tmp_path / "plots"
    result = runner.invoke(app, ["anomalies", "--store", str(store_path), "--format", "json", "--plot-dir",
                                 str(plots), "--min-impact", "500", "--min-pct", "20"])
    assert result.exit_code == 0, result.output
    (anomaly,) = json.loads(result.stdout)["anomalies"]
    assert anomaly["start"] == today.isoformat() and anomaly["end"] == today.isoformat()
    assert anomaly["scope"] == {"provider": "AWS", "service": "Amazon Elastic Compute Cloud"}
    assert anomaly["impact"] == pytest.approx(2500, rel=0.1)
    assert anomaly["impact_pct"] > 50 and anomaly["severity"] in {"medium", "high", "critical"}
    causes = {(c["dimension"], c["value"]) for c in anomaly["root_causes"]}
    assert ("resource_id", "i-0checkout") in causes and ("tag:app", "checkout") in causes
    top = anomaly["likely_changes"][0]
    assert top["decision_id"] == checkout_id and top["app"] == "checkout" and top["commit"].startswith("c0ffee")
    assert (plots / f"anomaly-{anomaly['id']}.svg").read_bytes().startswith(b"<?xml")

    # The same store scanned again gives the same id; feedback "planned" mutes it.
    again = runner.invoke(app, ["anomalies", "--store", str(store_path), "--format", "json", "--min-impact", "500",
                                "--min-pct", "20"])
    assert json.loads(again.stdout)["anomalies"][0]["id"] == anomaly["id"]
    fb = runner.invoke(app, ["feedback", anomaly["id"], "planned", "--store", str(store_path)])
    assert fb.exit_code == 0, fb.output
    muted = runner.invoke(app, ["anomalies", "--store", str(store_path), "--format", "json", "--min-impact",
                                "500", "--min-pct", "20"])
    assert json.loads(muted.stdout) == {"anomalies": []}

    # Thresholds: the $2,500 jump is below a $5,000 alert threshold.
    high = runner.invoke(app, ["anomalies", "--store", str(store_path), "--format", "json", "--min-impact", "5000",
                               "--include-muted"])
    assert json.loads(high.stdout) == {"anomalies": []}

    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(
        "- name: ec2\n  scope: {ServiceName: Amazon Elastic Compute Cloud}\n  amount: 1000000\n  owner: platform\n"
        "- name: frontend\n  scope: {tag:app: frontend}\n  amount: 100\n  period: quarterly\n"
    )
    fc = runner.invoke(app, ["forecast", "--store", str(store_path), "--budgets", str(budgets), "--format", "json",
                             "--plot-dir", str(plots)])
    assert fc.exit_code == 0, fc.output
    ec2, frontend = json.loads(fc.stdout)["forecasts"]
    assert ec2["probability_of_breach"] < 0.01 and ec2["expected_breach_day"] is None
    assert ec2["forecast"]["end"][:7] == today.isoformat()[:7]
    assert frontend["probability_of_breach"] == 1.0 and frontend["expected_breach_day"] is not None
    assert frontend["forecast"]["actual_to_date"] > 100
    assert (plots / "budget-ec2.svg").exists() and (plots / "budget-frontend.svg").exists()

    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: x\n  amount: -1\n")
    err = runner.invoke(app, ["forecast", "--store", str(store_path), "--budgets", str(bad)])
    assert err.exit_code != 0 and "bad.yaml:1" in str(err.exception) and "amount" in str(err.exception)
