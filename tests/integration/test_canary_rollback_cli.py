"""``tollgate judge --rollback branch --repo PATH --commit SHA``: a failed canary proposes its revert in Git."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from tests.integration.gitutil import commit_files, git

from tollgate.cli.main import main

pytestmark = pytest.mark.integration

CONFIG = "metrics:\n  - name: latency\n    direction: increase\n"


def _metrics(path: Path, values: np.ndarray) -> str:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["metric", "timestamp", "value"])
        writer.writerows(["latency", 1_700_000_000 + 60 * i, f"{v:.6f}"] for i, v in enumerate(values))
    return str(path)


def test_failed_judge_proposes_a_revert_branch_once_and_a_pass_proposes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOLLGATE_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    repo = tmp_path / "gitops"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_files(repo, {"app.yaml": "image: shop:1\n"}, "shop 1")
    bad = commit_files(repo, {"app.yaml": "image: shop:2\n"}, "shop 2")
    config = tmp_path / "canary.yaml"
    config.write_text(CONFIG)
    rng = np.random.default_rng(5)
    base = _metrics(tmp_path / "b.csv", rng.normal(200, 10, 200))
    slow = _metrics(tmp_path / "c.csv", rng.normal(200, 10, 200) * 1.25)
    args = ["judge", "--config", str(config), "--baseline", base, "--format", "json",
            "--rollback", "branch", "--repo", str(repo), "--commit", bad]

    assert main([*args, "--canary", slow]) == 1
    data = json.loads(capsys.readouterr().out)
    proposal = data["rollback"]
    assert data["verdict"] == "fail" and proposal["status"] == "created" and proposal["reverts"] == bad
    assert proposal["branch"] == f"tollgate/rollback/{data['decisionId']}"
    assert git(repo, "show", f"{proposal['branch']}:app.yaml") == "image: shop:1"
    assert "latency" in git(repo, "log", "-1", "--format=%B", proposal["branch"])
    assert git(repo, "rev-parse", "main") == bad

    assert main([*args, "--canary", base]) == 0  # canary == baseline: pass, no proposal
    assert "rollback" not in json.loads(capsys.readouterr().out)
    assert git(repo, "branch", "--list", "tollgate/rollback/*").split() == [proposal["branch"]]


def test_rollback_without_a_recorded_decision_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "canary.yaml"
    config.write_text(CONFIG)
    rng = np.random.default_rng(6)
    base = _metrics(tmp_path / "b.csv", rng.normal(200, 10, 200))
    slow = _metrics(tmp_path / "c.csv", rng.normal(200, 10, 200) * 1.25)
    rc = main(["judge", "--config", str(config), "--baseline", base, "--canary", slow, "--no-record",
               "--rollback", "branch", "--repo", str(tmp_path), "--commit", "abcdef1"])
    assert rc == 2
    assert "--rollback needs" in capsys.readouterr().err
