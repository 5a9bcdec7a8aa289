"""propose_rollback and ``tollgate rollback propose`` on real throw-away repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from tests.integration.gitutil import IDENTITY, git
from tests.integration.gitutil import commit_files as commit
from typer.testing import CliRunner

from tollgate.cli.rollback import rollback_app
from tollgate.errors import InputError, ProposalRefusedError, RevertConflictError
from tollgate.rollback import propose_rollback

ENV = IDENTITY


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "gitops"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "ops")
    git(path, "config", "user.email", "ops@example.com")
    commit(path, {"apps/web/deploy.yaml": "image: web:1\n", "apps/db.yaml": "image: db:1\n"}, "initial")
    return path


def test_off_mode_writes_nothing(repo: Path) -> None:
    bad = commit(repo, {"apps/web/deploy.yaml": "image: web:2\n"}, "web 2")
    before = git(repo, "for-each-ref")
    assert propose_rollback(repo, commit=bad, decision_id="d1", evidence="e", mode="off") is None
    assert git(repo, "for-each-ref") == before


def test_bad_mode_is_input_error(repo: Path) -> None:
    with pytest.raises(InputError, match="rollback mode: 'sideways'"):
        propose_rollback(repo, commit="HEAD", decision_id="d1", evidence="e", mode="sideways")


def test_branch_revert_with_evidence_and_idempotent(repo: Path) -> None:
    bad = commit(repo, {"apps/web/deploy.yaml": "image: web:2\n"}, "web 2")
    commit(repo, {"apps/db.yaml": "image: db:2\n"}, "db 2")
    decision = "0190f1c2-aaaa-7bbb-8ccc-000000000001"
    proposal = propose_rollback(repo, commit=bad[:10], decision_id=decision,
                                evidence="latency p99: canary 420 ms vs baseline 180 ms (High)")
    assert proposal is not None and proposal.created
    assert proposal.branch == f"tollgate/rollback/{decision}"
    assert proposal.reverted == bad and proposal.files == ("apps/web/deploy.yaml",)
    assert git(repo, "show", f"{proposal.commit}:apps/web/deploy.yaml") == "image: web:1"
    assert git(repo, "show", f"{proposal.commit}:apps/db.yaml") == "image: db:2"  # later work kept
    message = git(repo, "log", "-1", "--format=%B", proposal.commit)
    assert message.splitlines()[0] == 'Revert "web 2"'
    assert f"This reverts commit {bad}." in message
    assert "latency p99: canary 420 ms vs baseline 180 ms (High)" in message
    assert message.endswith(f"Tollgate-Decision: {decision}\nTollgate-Reverts: {bad}")
    assert git(repo, "log", "-1", "--format=%an", proposal.commit) == "ops"
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", "main")  # working branch untouched
    again = propose_rollback(repo, commit=bad, decision_id=decision, evidence="other words")
    assert again is not None and not again.created and again.commit == proposal.commit
    assert git(repo, "rev-list", "--count", proposal.branch) == "4"


def test_commit_mode_and_dirty_refusal(repo: Path) -> None:
    bad = commit(repo, {"apps/web/deploy.yaml": "image: web:2\n"}, "web 2")
    (repo / "apps/db.yaml").write_text("local\n")
    with pytest.raises(ProposalRefusedError, match="uncommitted changes"):
        propose_rollback(repo, commit=bad, decision_id="d2", evidence="e", mode="commit")
    git(repo, "checkout", "-q", "--", "apps/db.yaml")
    proposal = propose_rollback(repo, commit=bad, decision_id="d2", evidence="e", mode="commit")
    assert proposal is not None and proposal.created and proposal.branch == "main"
    assert (repo / "apps/web/deploy.yaml").read_text() == "image: web:1\n"
    again = propose_rollback(repo, commit=bad, decision_id="d2", evidence="e", mode="commit")
    assert again is not None and not again.created and git(repo, "rev-list", "--count", "HEAD") == "3"


def test_conflict_is_reported_and_nothing_written(repo: Path) -> None:
    bad = commit(repo, {"apps/web/deploy.yaml": "image: web:2\n"}, "web 2")
    commit(repo, {"apps/web/deploy.yaml": "image: web:3\n"}, "web 3")
    with pytest.raises(RevertConflictError, match="apps/web/deploy.yaml"):
        propose_rollback(repo, commit=bad, decision_id="d3", evidence="e")
    assert "tollgate/rollback" not in git(repo, "for-each-ref")


def test_cli_json(repo: Path) -> None:
    bad = commit(repo, {"apps/web/deploy.yaml": "image: web:2\n"}, "web 2")
    app = typer.Typer()
    app.add_typer(rollback_app, name="rollback")
    runner = CliRunner()
    args = ["rollback", "propose", "--repo", str(repo), "--commit", bad, "--decision", "d4", "--format", "json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["branch"] == "tollgate/rollback/d4" and data["status"] == "created" and data["reverted"] == bad
    second = json.loads(runner.invoke(app, args).stdout)
    assert second["status"] == "exists" and second["commit"] == data["commit"]
    assert "tollgate explain d4" in git(repo, "log", "-1", "--format=%B", data["commit"])
