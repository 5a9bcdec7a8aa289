"""The spine through the real CLI on real Git repos: cost, findings, exit codes, ledger, formats."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from gitutil import git

from tollgate.cli.demo import build_demo_repo
from tollgate.cli.main import main

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "corpus" / "k8s"
BOUTIQUE = CORPUS / "microservices-demo" / "kubernetes-manifests"

CPU_HOUR, RAM_GIB_HOUR, HOURS = 0.031611, 0.004237, 730.0


@pytest.fixture
def ledger_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "ledger.db"
    monkeypatch.setenv("TOLLGATE_LEDGER_URL", f"sqlite:///{db}")
    return db


def ledger_count(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("select count(*) from tollgate_decisions").fetchone()[0])


@pytest.fixture
def boutique(tmp_path: Path) -> Path:
    """The real microservices-demo manifests committed into a fresh repo (one app, production)."""
    repo = tmp_path / "gitops"
    shutil.copytree(BOUTIQUE, repo / "apps" / "boutique" / "production")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "boutique")
    return repo


def scale_frontend(repo: Path, replicas: int) -> None:
    path = repo / "apps" / "boutique" / "production" / "frontend.yaml"
    text = path.read_text()
    marker = "kind: Deployment\nmetadata:\n  name: frontend\n"
    assert marker in text
    text = text.replace(marker + "  labels:", marker + "  labels:", 1)
    # Insert spec.replicas right after the first "spec:" of the Deployment document.
    head, sep, tail = text.partition("spec:\n")
    path.write_text(head + sep + f"  replicas: {replicas}\n" + tail)
    git(repo, "commit", "-q", "-am", f"scale frontend to {replicas}")


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def test_replica_change_costs_what_a_hand_computation_says(
    boutique: Path, ledger_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scale_frontend(boutique, 3)
    rc, out, err = run_cli(["review", "--repo", str(boutique), "--base", "HEAD~1", "--head", "HEAD",
                            "--format", "json"], capsys)
    data = json.loads(out)
    assert [(c["kind"], c["name"], c["change"], c["fields"]) for c in data["changes"]] == [
        ("Deployment", "frontend", "modified", ["spec.replicas"])]
    assert data["changes"][0]["file"] == "apps/boutique/production/frontend.yaml"
    # frontend requests 100m CPU and 64Mi memory; 1 -> 3 replicas.
    per_replica = 0.1 * CPU_HOUR * HOURS + (64 / 1024) * RAM_GIB_HOUR * HOURS
    item = data["cost"]["items"][0]
    assert item["name"] == "frontend" and item["price_source"] == "default" and not item["unknown"]
    assert item["monthly_before"] == pytest.approx(per_replica, abs=0.01)
    assert item["monthly_after"] == pytest.approx(3 * per_replica, abs=0.01)
    assert data["cost"]["monthly_delta"] == pytest.approx(2 * per_replica, abs=0.01)
    # The corpus uses bare image names ("frontend"): an untagged image is a high finding -> block in production.
    assert data["decision"]["verdict"] == "block"
    assert rc == 1
    assert any(f["resource"] == "Deployment/default/frontend" and f["severity"] == "high"
               for f in data["findings"])
    assert data["decision"]["strategy"] in {"rolling", "canary", "blue-green"}
    assert 0.0 <= data["decision"]["risk"] <= 1.0 and data["decision"]["reasons"]
    assert ledger_count(ledger_env) == 1


def test_recorded_decision_can_be_explained_and_the_chain_verifies(
    boutique: Path, ledger_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scale_frontend(boutique, 2)
    _, out, _ = run_cli(["review", "--repo", str(boutique), "--base", "HEAD~1", "--format", "json"], capsys)
    decision_id = json.loads(out)["decision"]["id"]
    rc, out, _ = run_cli(["explain", decision_id], capsys)
    assert rc == 0
    assert decision_id in out and "Deployment/default/frontend" in out and "spec.replicas" in out
    rc, out, _ = run_cli(["explain", decision_id, "--format", "json"], capsys)
    record = json.loads(out)
    assert record["payload"]["cost"]["items"][0]["name"] == "frontend"
    assert record["subject"] == {"repo": str(boutique), "base": "HEAD~1", "head": "HEAD"}
    rc, out, _ = run_cli(["ledger", "approve", decision_id, "--approver", "alice@example.com"], capsys)
    assert rc == 0
    rc, out, _ = run_cli(["explain", decision_id], capsys)
    assert "approved by  alice@example.com" in out
    rc, out, _ = run_cli(["ledger", "verify"], capsys)
    assert rc == 0 and "2 records" in out


def test_tampered_ledger_fails_verification_naming_the_record(
    boutique: Path, ledger_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scale_frontend(boutique, 2)
    _, out, _ = run_cli(["review", "--repo", str(boutique), "--base", "HEAD~1", "--format", "json"], capsys)
    decision_id = json.loads(out)["decision"]["id"]
    with sqlite3.connect(ledger_env) as conn:
        for (name,) in conn.execute("select name from sqlite_master where type='trigger'").fetchall():
            conn.execute(f"drop trigger {name}")
        conn.execute("update tollgate_decisions set verdict = 'pass'")
    rc, _, err = run_cli(["ledger", "verify"], capsys)
    assert rc == 2
    assert decision_id in err and "#1" in err


def test_bad_inputs_exit_2_and_record_nothing(
    boutique: Path, tmp_path: Path, ledger_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(["review", "--repo", str(boutique), "--base", "no-such-ref", "--head", "HEAD"], capsys)
    assert rc == 2 and "no-such-ref" in err
    not_repo = tmp_path / "plain"
    not_repo.mkdir()
    rc, _, err = run_cli(["review", "--repo", str(not_repo)], capsys)
    assert rc == 2 and str(not_repo) in err
    broken = boutique / "apps" / "boutique" / "production" / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [1, 2\n")
    git(boutique, "add", "-A")
    git(boutique, "commit", "-q", "-m", "broken")
    rc, _, err = run_cli(["review", "--repo", str(boutique), "--base", "HEAD~1", "--head", "HEAD"], capsys)
    assert rc == 2
    assert "apps/boutique/production/broken.yaml:" in err
    assert ledger_count(ledger_env) == 0


def test_kustomize_overlay_and_helm_values_changes_through_the_demo_repo(
    tmp_path: Path, ledger_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "demo"
    commits = build_demo_repo(repo)
    first = commits[0][0]
    # Step 1 scales the production overlay of the frontend from 3 to 8 replicas.
    rc, out, _ = run_cli(["review", "--repo", str(repo), "--base", f"{first}~1", "--head", first,
                          "--format", "json"], capsys)
    data = json.loads(out)
    assert rc == 0
    assert [(c["namespace"], c["name"], c["fields"]) for c in data["changes"]] == [
        ("shop", "frontend", ["spec.replicas"])]
    per_replica = 0.25 * CPU_HOUR * HOURS + 0.25 * RAM_GIB_HOUR * HOURS
    assert data["cost"]["monthly_delta"] == pytest.approx(5 * per_replica, abs=0.01)
    assert data["cost"]["items"][0]["price_source"] == "pricebook"  # the repo's own price book
    # A Helm values change on top of the demo: payments 2 -> 5 replicas.
    values = repo / "envs" / "production" / "payments-values.yaml"
    values.write_text("replicaCount: 5\n")
    git(repo, "commit", "-q", "-am", "payments: 5 replicas")
    rc, out, _ = run_cli(["review", "--repo", str(repo), "--base", "HEAD~1", "--format", "json"], capsys)
    data = json.loads(out)
    assert [(c["kind"], c["namespace"], c["name"], c["fields"]) for c in data["changes"]] == [
        ("Deployment", "payments", "payments", ["spec.replicas"])]
    assert data["cost"]["monthly_delta"] == pytest.approx(3 * per_replica, abs=0.01)


def test_demo_step_with_budget_breach_blocks_and_suggests_a_fix(
    tmp_path: Path, ledger_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "demo"
    commits = build_demo_repo(repo)
    second = commits[1][0]
    rc, out, _ = run_cli(["review", "--repo", str(repo), "--base", f"{second}~1", "--head", second,
                          "--format", "markdown"], capsys)
    assert rc == 1
    assert out.startswith("<!-- tollgate:review -->")
    assert "**block**" in out and "TG-FINOPS-001" in out and "reduce replicas from 4 to 2" in out


def test_sarif_output_file(boutique: Path, tmp_path: Path, ledger_env: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    scale_frontend(boutique, 2)
    target = tmp_path / "out" / "tollgate.sarif"
    rc, _, _ = run_cli(["review", "--repo", str(boutique), "--base", "HEAD~1", "--format", "sarif",
                        "--output", str(target), "--no-record"], capsys)
    log = json.loads(target.read_text())
    assert log["version"] == "2.1.0"
    assert log["runs"][0]["results"], "the untagged image must produce at least one result"
    assert rc == 1
    assert ledger_count(ledger_env) == 0


def test_console_script_runs_the_demo(tmp_path: Path) -> None:
    env = {**os.environ, "TOLLGATE_LEDGER_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    proc = subprocess.run(["tollgate", "demo", "--format", "json"], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count('"verdict"') == 4
    with sqlite3.connect(tmp_path / "demo.db") as conn:
        assert conn.execute("select count(*) from tollgate_decisions").fetchone()[0] == 4


def test_review_records_into_postgresql(boutique: Path, fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TOLLGATE_LEDGER_URL", fresh_postgres_url)
    scale_frontend(boutique, 2)
    _, out, _ = run_cli(["review", "--repo", str(boutique), "--base", "HEAD~1", "--format", "json"], capsys)
    decision_id = json.loads(out)["decision"]["id"]
    rc, out, _ = run_cli(["explain", decision_id], capsys)
    assert rc == 0 and decision_id in out
    rc, out, _ = run_cli(["ledger", "verify"], capsys)
    assert rc == 0 and "1 records" in out
