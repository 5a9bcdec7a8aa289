"""GitWriter against real throw-away repositories: branch/commit proposals, reverts, refusals, idempotency."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.gitutil import IDENTITY, git
from tests.integration.gitutil import commit_files as commit

from tollgate.errors import ProposalRefusedError, RefError, RevertConflictError
from tollgate.model.proposals import FileChange
from tollgate.sources.gitwrite import DEFAULT_IDENTITY, GitWriter

ENV = IDENTITY


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))  # no user config: the writer's own identity is used
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit(path, {"app/web.yaml": "cpu: 100m\n", "README": "hi\n"}, "initial")
    return path


def test_branch_proposal_leaves_working_tree_alone(repo: Path) -> None:
    (repo / "README").write_text("local edit\n")  # the user's uncommitted work
    head = git(repo, "rev-parse", "HEAD")
    writer = GitWriter(repo)
    result = writer.propose_branch("tollgate/rightsize/shop-web", "main",
                                   [FileChange("app/web.yaml", b"cpu: 250m\n")], "rightsize web\n\nbody\n")
    assert result.created and result.status == "created"
    assert result.files == ("app/web.yaml",) and result.base_commit == head
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "app/web.yaml").read_text() == "cpu: 100m\n"
    assert (repo / "README").read_text() == "local edit\n"
    assert git(repo, "status", "--porcelain") == "M README"
    assert git(repo, "show", f"{result.commit}:app/web.yaml") == "cpu: 250m"
    assert git(repo, "log", "-1", "--format=%an <%ae>|%B", result.commit) == \
        f"{DEFAULT_IDENTITY[0]} <{DEFAULT_IDENTITY[1]}>|rightsize web\n\nbody"
    assert git(repo, "rev-parse", f"{result.commit}^") == head
    # rerun: same content, nothing new
    again = writer.propose_branch("tollgate/rightsize/shop-web", "main",
                                  [FileChange("app/web.yaml", b"cpu: 250m\n")], "rightsize web\n")
    assert not again.created and again.commit == result.commit and again.status == "exists"
    assert git(repo, "rev-list", "--count", "tollgate/rightsize/shop-web") == "2"
    # new content goes on top of the existing proposal
    third = writer.propose_branch("tollgate/rightsize/shop-web", "main",
                                  [FileChange("app/web.yaml", b"cpu: 300m\n")], "rightsize web again\n")
    assert third.created and git(repo, "rev-parse", f"{third.commit}^") == result.commit


def test_branch_name_and_ref_validation(repo: Path) -> None:
    writer = GitWriter(repo)
    with pytest.raises(ProposalRefusedError, match="not a valid branch name"):
        writer.propose_branch("bad..name", "main", [], "x")
    with pytest.raises(RefError, match="unknown Git ref"):
        writer.propose_branch("ok", "nope", [], "x")
    with pytest.raises(RefError):
        GitWriter(repo / "app").resolve("--help")


def test_commit_mode_updates_checkout(repo: Path) -> None:
    writer = GitWriter(repo)
    result = writer.commit_current([FileChange("app/web.yaml", b"cpu: 50m\n")], "shrink\n", base="main")
    assert result.created and result.branch == "main"
    assert git(repo, "rev-parse", "HEAD") == result.commit
    assert (repo / "app/web.yaml").read_text() == "cpu: 50m\n"
    assert git(repo, "status", "--porcelain") == ""
    again = writer.commit_current([FileChange("app/web.yaml", b"cpu: 50m\n")], "shrink\n")
    assert not again.created and again.commit == result.commit


def test_commit_mode_refuses_dirty_tree(repo: Path) -> None:
    (repo / "app/web.yaml").write_text("cpu: 1\n")
    with pytest.raises(ProposalRefusedError, match="uncommitted changes"):
        GitWriter(repo).commit_current([FileChange("app/web.yaml", b"cpu: 2\n")], "x\n")
    assert (repo / "app/web.yaml").read_text() == "cpu: 1\n"


def test_commit_mode_refuses_diverged_upstream_and_base(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "fetch", "-q", "origin")
    git(repo, "branch", "-q", "--set-upstream-to=origin/main")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    commit(other, {"README": "theirs\n"}, "theirs")
    git(other, "push", "-q", "origin", "main")
    commit(repo, {"README": "ours\n"}, "ours")
    git(repo, "fetch", "-q", "origin")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(ProposalRefusedError, match=r"diverged from origin/main \(1 ahead, 1 behind\)"):
        GitWriter(repo).commit_current([FileChange("app/web.yaml", b"cpu: 2\n")], "x\n")
    assert git(repo, "rev-parse", "HEAD") == head
    # base check: HEAD's copy of the file moved on since the base the proposal was computed on
    git(repo, "branch", "-q", "--unset-upstream")
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, {"app/web.yaml": "cpu: 999m\n"}, "manual change")
    with pytest.raises(ProposalRefusedError, match="diverged from"):
        GitWriter(repo).commit_current([FileChange("app/web.yaml", b"cpu: 2\n")], "x\n", base=base)


def test_revert_branch_and_idempotency(repo: Path) -> None:
    bad = commit(repo, {"app/web.yaml": "cpu: 4\n"}, "scale up")
    commit(repo, {"README": "later\n"}, "unrelated")
    writer = GitWriter(repo)
    marker = "Tollgate-Decision: d-1"
    result = writer.revert_branch("tollgate/rollback/d-1", "main", bad, f"Revert\n\n{marker}\n", marker)
    assert result.created and result.files == ("app/web.yaml",)
    assert git(repo, "show", f"{result.commit}:app/web.yaml") == "cpu: 100m"
    assert git(repo, "show", f"{result.commit}:README") == "later"
    assert git(repo, "worktree", "list").count("\n") == 0  # the temporary worktree is gone
    again = writer.revert_branch("tollgate/rollback/d-1", "main", bad, f"Revert\n\n{marker}\n", marker)
    assert not again.created and again.commit == result.commit


def test_conflicting_revert_writes_nothing(repo: Path) -> None:
    bad = commit(repo, {"app/web.yaml": "cpu: 4\n"}, "scale up")
    commit(repo, {"app/web.yaml": "cpu: 8\n"}, "scale more")
    writer = GitWriter(repo)
    refs_before = git(repo, "for-each-ref")
    with pytest.raises(RevertConflictError, match=r"conflicts with later changes in: app/web.yaml") as info:
        writer.revert_branch("tollgate/rollback/d-2", "main", bad, "Revert\n", "Tollgate-Decision: d-2")
    assert info.value.files == ("app/web.yaml",)
    assert git(repo, "for-each-ref") == refs_before
    assert git(repo, "worktree", "list").count("\n") == 0
    assert git(repo, "status", "--porcelain") == ""


def test_revert_current(repo: Path) -> None:
    bad = commit(repo, {"app/web.yaml": "cpu: 4\n"}, "scale up")
    writer = GitWriter(repo)
    marker = "Tollgate-Decision: d-3"
    result = writer.revert_current(bad, f"Revert\n\n{marker}\n", marker)
    assert result.created and (repo / "app/web.yaml").read_text() == "cpu: 100m\n"
    assert git(repo, "rev-parse", "HEAD") == result.commit
    assert not writer.revert_current(bad, f"Revert\n\n{marker}\n", marker).created
    assert git(repo, "rev-list", "--count", "HEAD") == "3"
