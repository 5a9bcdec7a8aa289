"""GitRepo against real repositories made with the git CLI in tmp_path."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gitutil import git
from gitutil import write_files as write

from tollgate.errors import RefError
from tollgate.sources.git import GitRepo, GitSource

pytestmark = pytest.mark.integration


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, {"apps/web/deploy.yaml": "replicas: 1\n", "apps/api/svc.yaml": "port: 80\n", "README.md": "hi\n"})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "one", env={"GIT_COMMITTER_DATE": "2024-01-02T03:04:05Z"})
    git(root, "tag", "v1")
    write(root, {"apps/web/deploy.yaml": "replicas: 3\n", "apps/web/hpa.yaml": "max: 5\n"})
    git(root, "mv", "apps/api/svc.yaml", "apps/api/service.yaml")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "two")
    return root


def test_resolve_refs(repo: Path) -> None:
    source = GitRepo(repo)
    assert isinstance(source, GitSource)
    head = git(repo, "rev-parse", "HEAD")
    assert source.resolve("main") == head == source.resolve("HEAD")
    assert source.resolve("v1") == source.resolve("HEAD~1") == git(repo, "rev-parse", "v1^{commit}")
    assert source.resolve(head[:10]) == head


@pytest.mark.parametrize("ref", ["no-such-branch", "HEAD~7", "--output=/tmp/x", "deadbeef"])
def test_unknown_ref_is_a_ref_error_naming_it(repo: Path, ref: str) -> None:
    with pytest.raises(RefError) as info:
        GitRepo(repo).resolve(ref)
    assert ref in str(info.value)


def test_opening_a_subdirectory_reads_the_whole_repo(repo: Path, tmp_path: Path) -> None:
    source = GitRepo(repo / "apps/web")
    assert source.path == repo.resolve()
    assert "README.md" in source.list_files("main")
    out = source.export("main", tmp_path / "sub", ["apps/api"])
    assert (out / "apps/api/service.yaml").is_file()


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(RefError, match="not a Git repository"):
        GitRepo(tmp_path)
    with pytest.raises(RefError):
        GitRepo(tmp_path / "missing")


def test_files_trees_and_contents(repo: Path) -> None:
    source = GitRepo(repo)
    base, head = source.resolve("v1"), source.resolve("main")
    assert source.list_files(head) == [
        "README.md", "apps/api/service.yaml", "apps/web/deploy.yaml", "apps/web/hpa.yaml"]
    assert source.list_files(base, "apps/web") == ["apps/web/deploy.yaml"]
    assert source.read_file(base, "apps/web/deploy.yaml") == b"replicas: 1\n"
    assert source.read_files(head, ["apps/web/hpa.yaml", "README.md"]) == {
        "apps/web/hpa.yaml": b"max: 5\n", "README.md": b"hi\n"}
    with pytest.raises(RefError, match="apps/web/hpa.yaml"):
        source.read_files(base, ["README.md", "apps/web/hpa.yaml"])
    with pytest.raises(RefError, match="not a file"):
        source.read_file(head, "apps")
    assert source.tree_id(base, "apps/api") != source.tree_id(head, "apps/api")
    assert source.tree_id(base, "README.md") == source.tree_id(head, "README.md")
    assert source.tree_id(head, "apps/web") == git(repo, "rev-parse", "HEAD:apps/web")
    with pytest.raises(RefError):
        source.tree_id(base, "apps/web/hpa.yaml")


def test_changes_history_and_time(repo: Path) -> None:
    source = GitRepo(repo)
    base, head = source.resolve("v1"), source.resolve("main")
    assert source.changed_files(base, head) == [
        "apps/api/service.yaml", "apps/api/svc.yaml", "apps/web/deploy.yaml", "apps/web/hpa.yaml"]
    assert source.commits_between(base, head) == [head]
    assert source.commits_between(head, base) == []
    assert source.commit_time(base) == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_export_never_touches_the_working_tree(repo: Path, tmp_path: Path) -> None:
    (repo / "apps/web/deploy.yaml").write_text("dirty\n")
    source = GitRepo(repo)
    dest = source.export(source.resolve("v1"), tmp_path / "out", ["apps/web"])
    assert (dest / "apps/web/deploy.yaml").read_text() == "replicas: 1\n"
    assert not (dest / "README.md").exists()
    assert (repo / "apps/web/deploy.yaml").read_text() == "dirty\n"
    whole = source.export("main", tmp_path / "all")
    assert sorted(p.relative_to(whole).as_posix() for p in whole.rglob("*") if p.is_file()) == [
        "README.md", "apps/api/service.yaml", "apps/web/deploy.yaml", "apps/web/hpa.yaml"]
    with pytest.raises(RefError):
        source.export("main", tmp_path / "bad", ["no/such/dir"])


def test_reading_five_thousand_manifests_is_fast(tmp_path: Path) -> None:
    root = tmp_path / "big"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for i in range(5000):
        path = root / f"apps/team-{i % 50}/svc-{i}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: svc-{i}\ndata:\n  n: '{i}'\n" * 5)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "big")

    source = GitRepo(root)
    started = time.perf_counter()
    files = source.list_files("main")
    contents = source.read_files("main", files)
    elapsed = time.perf_counter() - started

    assert len(contents) == 5000
    assert contents["apps/team-7/svc-4257.yaml"].count(b"name: svc-4257\n") == 5
    assert elapsed < 2.0, f"{elapsed:.2f} s"
