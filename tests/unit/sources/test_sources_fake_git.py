"""FakeGitSource behaves like a Git repository for the pure parts of the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.errors import InputError, RefError
from tollgate.sources.git import FakeGitSource, GitSource, normalize_path


def _repo() -> tuple[FakeGitSource, str, str]:
    git = FakeGitSource()
    first = git.commit({"app/a.yaml": "a: 1\n", "lib/b.yaml": "b: 1\n"}, ref="base")
    second = git.commit({"app/a.yaml": "a: 2\n", "lib/b.yaml": "b: 1\n", "new.txt": b"x"}, ref="main")
    return git, first, second


def test_fake_satisfies_the_protocol_and_resolves_refs() -> None:
    git, first, second = _repo()
    assert isinstance(git, GitSource)
    assert git.resolve("base") == first
    assert git.resolve("main") == second == git.resolve("HEAD")
    assert git.resolve(first[:8]) == first
    with pytest.raises(RefError, match="nope"):
        git.resolve("nope")


def test_tree_ids_follow_content_not_commits() -> None:
    git, first, second = _repo()
    assert git.tree_id(first, "lib") == git.tree_id(second, "lib")
    assert git.tree_id(first, "app") != git.tree_id(second, "app")
    assert git.tree_id(first, "lib/b.yaml") == git.tree_id(second, "lib/b.yaml")
    with pytest.raises(RefError):
        git.tree_id(first, "missing")


def test_files_changes_and_history() -> None:
    git, first, second = _repo()
    assert git.list_files(second) == ["app/a.yaml", "lib/b.yaml", "new.txt"]
    assert git.list_files(second, "app/") == ["app/a.yaml"]
    assert git.read_files(first, ["./app/a.yaml"]) == {"app/a.yaml": b"a: 1\n"}
    with pytest.raises(RefError, match="new.txt"):
        git.read_file(first, "new.txt")
    assert git.changed_files(first, second) == ["app/a.yaml", "new.txt"]
    assert git.commits_between(first, second) == [second]
    assert git.commit_time(first) < git.commit_time(second)


def test_export_writes_only_requested_paths(tmp_path: Path) -> None:
    git, _, second = _repo()
    git.export(second, tmp_path, ["app"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == ["app/a.yaml"]
    with pytest.raises(RefError, match="nowhere"):
        git.export(second, tmp_path / "x", ["nowhere"])


@pytest.mark.parametrize(("raw", "expected"), [("", ""), (".", ""), ("./a/b/", "a/b"), ("/a//b", "a/b")])
def test_normalize_path(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


def test_normalize_path_refuses_to_leave_the_repo() -> None:
    with pytest.raises(InputError):
        normalize_path("a/../../etc")
