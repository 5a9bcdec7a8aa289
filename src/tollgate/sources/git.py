"""Read a Git repository at any commit without touching its working tree.

:class:`GitRepo` drives the ``git`` program through subprocess; :class:`FakeGitSource` is an
in-memory stand-in with the same :class:`GitSource` protocol for unit tests of pure logic.
Paths are always repo-relative with ``/`` separators; ``""`` means the repository root.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

from tollgate.errors import InputError, RefError, ToolNotFoundError

__all__ = ["FakeGitSource", "GitRepo", "GitSource", "normalize_path"]


def normalize_path(path: str) -> str:
    """Canonical repo-relative form of ``path``: no leading ``./`` or ``/``, no trailing ``/``.

    ``""`` and ``"."`` both mean the root. A path that climbs out of the repo (``..``) is an InputError.
    """
    cleaned = path.replace("\\", "/").strip().strip("/")
    if cleaned in ("", "."):
        return ""
    parts = [p for p in PurePosixPath(cleaned).parts if p not in (".", "")]
    if ".." in parts:
        raise InputError(f"path {path!r} leaves the repository")
    return "/".join(parts)


def _under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + "/")


@runtime_checkable
class GitSource(Protocol):
    """Read access to the commits of one repository."""

    def resolve(self, ref: str) -> str:
        """Full commit id of ``ref`` (branch, tag, sha, ``HEAD~1``...). Unknown ref: RefError."""
        ...

    def tree_id(self, commit: str, path: str = "") -> str:
        """Object id of ``path`` (a tree, or a blob for a file) at ``commit``. Missing path: RefError."""
        ...

    def object_ids(self, commit: str, paths: Iterable[str]) -> dict[str, str | None]:
        """Object id of each path at ``commit`` (None where it does not exist), in one go."""
        ...

    def list_files(self, commit: str, path: str = "") -> list[str]:
        """Repo-relative paths of every file under ``path`` at ``commit``, sorted."""
        ...

    def read_file(self, commit: str, path: str) -> bytes:
        """Content of one file. Missing file: RefError."""
        ...

    def read_files(self, commit: str, paths: Iterable[str]) -> dict[str, bytes]:
        """Contents of many files at once. Any missing file: RefError."""
        ...

    def export(self, commit: str, dest: Path, paths: Sequence[str] | None = None) -> Path:
        """Write the files of ``commit`` (only ``paths`` when given) under ``dest``; returns ``dest``."""
        ...

    def changed_files(self, base: str, head: str) -> list[str]:
        """Paths added, modified or removed between two commits (a rename lists both names), sorted."""
        ...

    def commit_time(self, commit: str) -> datetime:
        """Committer time of ``commit``, timezone-aware (UTC)."""
        ...

    def commits_between(self, base: str, head: str) -> list[str]:
        """Commits reachable from ``head`` but not from ``base``, oldest first."""
        ...


class GitRepo:
    """A repository on disk, read through the ``git`` CLI (object database only, never a checkout).

    Raises RefError at construction when ``path`` is not inside a Git repository, and
    ToolNotFoundError when no ``git`` program is on PATH.
    """

    def __init__(self, path: Path | str, *, git: str = "git", timeout_s: float = 120.0) -> None:
        self.path = Path(path)
        found = shutil.which(git)
        if found is None:
            raise ToolNotFoundError(f"the git program {git!r} is not on PATH", hint="install git")
        self._git = found
        self._timeout = timeout_s
        if not self.path.is_dir():
            raise RefError(f"{self.path} is not a directory, so not a Git repository")
        proc = self._run("rev-parse", "--git-dir", check=False)
        if proc.returncode != 0:
            raise RefError(f"{self.path} is not a Git repository: {proc.stderr.decode(errors='replace').strip()}")
        top = self._run("rev-parse", "--show-toplevel", check=False)  # fails (harmlessly) in a bare repo
        if top.returncode == 0 and top.stdout.strip():
            self.path = Path(top.stdout.decode().strip())

    def __repr__(self) -> str:
        return f"GitRepo({str(self.path)!r})"

    # -- plumbing -------------------------------------------------------------------------------

    def _run(self, *args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
        try:
            proc = subprocess.run(
                [self._git, "-C", str(self.path), *args],
                input=stdin,
                capture_output=True,
                env=env,
                timeout=self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RefError(f"git {args[0]} in {self.path} timed out after {self._timeout:g} s") from exc
        if check and proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise RefError(f"git {' '.join(args)} failed in {self.path}: {err}")
        return proc

    @staticmethod
    def _check_ref(ref: str) -> None:
        if not ref or ref.startswith("-") or any(c in ref for c in "\n\0"):
            raise RefError(f"invalid Git ref {ref!r}")

    # -- GitSource --------------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        self._check_ref(ref)
        proc = self._run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
        sha = proc.stdout.decode().strip()
        if proc.returncode != 0 or not sha:
            raise RefError(f"unknown Git ref {ref!r} in {self.path}")
        return sha

    def tree_id(self, commit: str, path: str = "") -> str:
        self._check_ref(commit)
        rel = normalize_path(path)
        proc = self._run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{commit}:{rel}", check=False)
        oid = proc.stdout.decode().strip()
        if proc.returncode != 0 or not oid:
            raise RefError(f"{rel or '/'} does not exist at {commit} in {self.path}")
        return oid

    def object_ids(self, commit: str, paths: Iterable[str]) -> dict[str, str | None]:
        """One ``git cat-file --batch-check`` process for all ``paths``."""
        self._check_ref(commit)
        wanted = list(dict.fromkeys(normalize_path(p) for p in paths))
        if not wanted:
            return {}
        if any("\n" in p for p in wanted):
            raise RefError("paths with newlines are not supported")
        request = "".join(f"{commit}:{p}\n" for p in wanted).encode("utf-8", errors="surrogateescape")
        lines = self._run("cat-file", "--batch-check=%(objectname) %(objecttype)", stdin=request).stdout.splitlines()
        result: dict[str, str | None] = {}
        for p, line in zip(wanted, lines, strict=True):
            fields = line.decode(errors="replace").split(" ")
            result[p] = fields[0] if len(fields) == 2 and fields[1] in ("blob", "tree", "commit") else None
        return result

    def list_files(self, commit: str, path: str = "") -> list[str]:
        self._check_ref(commit)
        rel = normalize_path(path)
        args = ["ls-tree", "-r", "-z", "--full-tree", "--name-only", commit]
        if rel:
            args += ["--", rel]
        out = self._run(*args).stdout.decode("utf-8", errors="surrogateescape")
        return sorted(p for p in out.split("\0") if p and _under(p, rel))

    def read_file(self, commit: str, path: str) -> bytes:
        rel = normalize_path(path)
        return self.read_files(commit, [rel])[rel]

    def read_files(self, commit: str, paths: Iterable[str]) -> dict[str, bytes]:
        """One ``git cat-file --batch`` process for all ``paths``."""
        self._check_ref(commit)
        wanted = list(dict.fromkeys(normalize_path(p) for p in paths))
        if not wanted:
            return {}
        for p in wanted:
            if "\n" in p or not p:
                raise RefError(f"cannot read path {p!r}")
        request = "".join(f"{commit}:{p}\n" for p in wanted).encode("utf-8", errors="surrogateescape")
        out = self._run("cat-file", "--batch", stdin=request).stdout
        result: dict[str, bytes] = {}
        pos = 0
        for p in wanted:
            eol = out.index(b"\n", pos)
            header = out[pos:eol].split(b" ")
            pos = eol + 1
            if len(header) != 3:  # "<name> missing" / "ambiguous"
                raise RefError(f"{p} does not exist at {commit} in {self.path}")
            kind, size = header[1], int(header[2])
            if kind != b"blob":
                pos += size + 1
                raise RefError(f"{p} at {commit} is a {kind.decode()}, not a file")
            result[p] = out[pos : pos + size]
            pos += size + 1
        return result

    def export(self, commit: str, dest: Path, paths: Sequence[str] | None = None) -> Path:
        """Stream ``git archive`` into ``dest`` (safe extraction: nothing may land outside it)."""
        self._check_ref(commit)
        dest.mkdir(parents=True, exist_ok=True)
        args = [self._git, "-C", str(self.path), "archive", "--format=tar", commit]
        if paths:
            args += ["--", *(normalize_path(p) or "." for p in paths)]
        with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            try:
                with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
                    archive.extractall(dest, filter="data")
            except tarfile.FilterError as exc:
                proc.kill()
                raise InputError(f"refusing to export {exc.tarinfo.name} from {commit}: {exc}") from exc
            except tarfile.ReadError:
                pass  # git failed before writing a tar stream; reported below
            err = proc.stderr.read()
            code = proc.wait(timeout=self._timeout)
        if code != 0:
            raise RefError(f"git archive {commit} failed in {self.path}: {err.decode(errors='replace').strip()}")
        return dest

    def changed_files(self, base: str, head: str) -> list[str]:
        self._check_ref(base)
        self._check_ref(head)
        out = self._run("diff", "--name-only", "-z", "--no-renames", base, head, "--").stdout
        return sorted({p for p in out.decode("utf-8", errors="surrogateescape").split("\0") if p})

    def commit_time(self, commit: str) -> datetime:
        self._check_ref(commit)
        out = self._run("show", "-s", "--format=%ct", commit, "--").stdout.decode().strip()
        return datetime.fromtimestamp(int(out), tz=UTC)

    def commits_between(self, base: str, head: str) -> list[str]:
        self._check_ref(base)
        self._check_ref(head)
        out = self._run("rev-list", "--reverse", f"{base}..{head}", "--").stdout.decode()
        return out.split()


def _blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


class FakeGitSource:
    """In-memory linear history: each commit is a full ``{path: bytes}`` snapshot.

    Object ids are content hashes, so an unchanged directory keeps its :meth:`tree_id` across
    commits, as in Git. Add commits with :meth:`commit`; ``HEAD`` always names the latest.
    """

    def __init__(self) -> None:
        self._commits: dict[str, dict[str, bytes]] = {}
        self._order: list[str] = []
        self._times: dict[str, datetime] = {}
        self._refs: dict[str, str] = {}

    def commit(
        self,
        files: Mapping[str, bytes | str],
        *,
        ref: str | None = None,
        time: datetime | None = None,
    ) -> str:
        """Record a snapshot (text is UTF-8 encoded) and return its fake commit id."""
        snapshot = {
            normalize_path(p): c.encode() if isinstance(c, str) else bytes(c) for p, c in files.items()
        }
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(str(len(self._order)).encode())
        for p in sorted(snapshot):
            digest.update(p.encode() + b"\0" + _blob_id(snapshot[p]).encode())
        sha = digest.hexdigest()
        self._commits[sha] = snapshot
        self._order.append(sha)
        self._times[sha] = time or datetime.fromtimestamp(1_700_000_000 + 60 * len(self._order), tz=UTC)
        self._refs["HEAD"] = sha
        if ref:
            self._refs[ref] = sha
        return sha

    def _files(self, commit: str) -> dict[str, bytes]:
        return self._commits[self.resolve(commit)]

    def resolve(self, ref: str) -> str:
        if ref in self._refs:
            return self._refs[ref]
        if ref in self._commits:
            return ref
        matches = [c for c in self._order if len(ref) >= 4 and c.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise RefError(f"unknown Git ref {ref!r}")

    def tree_id(self, commit: str, path: str = "") -> str:
        files = self._files(commit)
        rel = normalize_path(path)
        if rel in files:
            return _blob_id(files[rel])
        entries = sorted((p, _blob_id(c)) for p, c in files.items() if _under(p, rel))
        if not entries and rel:
            raise RefError(f"{rel} does not exist at {commit}")
        digest = hashlib.sha1(usedforsecurity=False)
        for p, oid in entries:
            digest.update(f"{p}\0{oid}\n".encode())
        return digest.hexdigest()

    def object_ids(self, commit: str, paths: Iterable[str]) -> dict[str, str | None]:
        result: dict[str, str | None] = {}
        for p in paths:
            try:
                result[normalize_path(p)] = self.tree_id(commit, p)
            except RefError:
                result[normalize_path(p)] = None
        return result

    def list_files(self, commit: str, path: str = "") -> list[str]:
        rel = normalize_path(path)
        return sorted(p for p in self._files(commit) if _under(p, rel))

    def read_file(self, commit: str, path: str) -> bytes:
        rel = normalize_path(path)
        return self.read_files(commit, [rel])[rel]

    def read_files(self, commit: str, paths: Iterable[str]) -> dict[str, bytes]:
        files = self._files(commit)
        result: dict[str, bytes] = {}
        for p in paths:
            rel = normalize_path(p)
            if rel not in files:
                raise RefError(f"{rel} does not exist at {commit}")
            result[rel] = files[rel]
        return result

    def export(self, commit: str, dest: Path, paths: Sequence[str] | None = None) -> Path:
        prefixes = [normalize_path(p) for p in paths] if paths else [""]
        files = self._files(commit)
        for pre in prefixes:
            if not any(_under(p, pre) for p in files):
                raise RefError(f"{pre} does not exist at {commit}")
        for p, content in files.items():
            if any(_under(p, pre) for pre in prefixes):
                target = dest / p
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        dest.mkdir(parents=True, exist_ok=True)
        return dest

    def changed_files(self, base: str, head: str) -> list[str]:
        a, b = self._files(base), self._files(head)
        return sorted(p for p in a.keys() | b.keys() if a.get(p) != b.get(p))

    def commit_time(self, commit: str) -> datetime:
        return self._times[self.resolve(commit)]

    def commits_between(self, base: str, head: str) -> list[str]:
        start, end = self._order.index(self.resolve(base)), self._order.index(self.resolve(head))
        return self._order[start + 1 : end + 1]
