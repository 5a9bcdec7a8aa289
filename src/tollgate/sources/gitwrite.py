"""Write proposals into a Git repository without disturbing the user's work (I/O adapter).

Branch mode never touches the working tree or the real index: the new tree is built in a temporary
index file (``hash-object``, ``read-tree``, ``update-index``, ``write-tree``), committed with
``commit-tree`` and published with a compare-and-swap ``update-ref``. Commit mode adds the commit to
the checked-out branch and then moves the index and working tree forward with a two-tree
``read-tree -m -u`` (which refuses to overwrite local changes); a dirty tree, a detached HEAD, or a
branch behind or diverged from its upstream is refused before anything is written.

Reverts are computed in a temporary ``git worktree`` (removed afterwards); a conflicting revert
raises :class:`~tollgate.errors.RevertConflictError` and leaves no ref, file or worktree behind.

Every write is idempotent: when the target already holds the same content (or, for a revert, a commit
carrying the same ``Tollgate-Decision`` trailer), nothing is written and the result says
``created=False``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tollgate.errors import ProposalRefusedError, RefError, RevertConflictError, ToolNotFoundError
from tollgate.model.proposals import FileChange, Proposal
from tollgate.sources.git import normalize_path

__all__ = ["DEFAULT_IDENTITY", "GitWriter"]

#: Author and committer used when neither the environment nor the repo's config names one.
DEFAULT_IDENTITY = ("tollgate", "tollgate@localhost")
_ZERO = "0" * 40


class GitWriter:
    """Creates proposal commits in the repository at ``path``.

    Raises RefError when ``path`` is not a Git work tree and ToolNotFoundError without ``git``.
    """

    def __init__(self, path: Path | str, *, git: str = "git", timeout_s: float = 120.0,
                 identity: tuple[str, str] | None = None) -> None:
        found = shutil.which(git)
        if found is None:
            raise ToolNotFoundError(f"the git program {git!r} is not on PATH", hint="install git")
        self._git = found
        self._timeout = timeout_s
        self.path = Path(path)
        self._identity = identity or DEFAULT_IDENTITY
        if not self.path.is_dir():
            raise RefError(f"{self.path} is not a directory, so not a Git repository")
        top = self._run("rev-parse", "--show-toplevel", check=False)
        if top.returncode != 0:
            raise RefError(f"{self.path} is not a Git work tree: {top.stderr.strip()}")
        self.path = Path(top.stdout.strip())
        if identity is None:
            self._identity = self._configured_identity()

    # -- plumbing ---------------------------------------------------------------------------------

    def _env(self, index: Path | None = None) -> dict[str, str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        if index is not None:
            env["GIT_INDEX_FILE"] = str(index)
        name, email = self._identity
        for who in ("AUTHOR", "COMMITTER"):
            env.setdefault(f"GIT_{who}_NAME", name)
            env.setdefault(f"GIT_{who}_EMAIL", email)
        return env

    def _run(self, *args: str, stdin: str | bytes | None = None, index: Path | None = None, check: bool = True,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        try:
            proc = subprocess.run([self._git, "-C", str(cwd or self.path), *args], input=data, capture_output=True,
                                  env=self._env(index), timeout=self._timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RefError(f"git {args[0]} in {self.path} timed out after {self._timeout:g} s") from exc
        result = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                             proc.stderr.decode("utf-8", "replace"))
        if check and proc.returncode != 0:
            raise RefError(f"git {' '.join(args[:3])} failed in {self.path}: {result.stderr.strip()}")
        return result

    def _configured_identity(self) -> tuple[str, str]:
        name = self._run("config", "--get", "user.name", check=False).stdout.strip()
        email = self._run("config", "--get", "user.email", check=False).stdout.strip()
        return (name or DEFAULT_IDENTITY[0], email or DEFAULT_IDENTITY[1])

    def resolve(self, ref: str) -> str:
        if not ref or ref.startswith("-") or any(c in ref for c in "\n\0"):
            raise RefError(f"invalid Git ref {ref!r}")
        proc = self._run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RefError(f"unknown Git ref {ref!r} in {self.path}")
        return proc.stdout.strip()

    def branch_tip(self, branch: str) -> str | None:
        """Commit of ``refs/heads/<branch>``, or ``None`` when the branch does not exist."""
        self._check_branch(branch)
        proc = self._run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
        return proc.stdout.strip() or None

    def _check_branch(self, branch: str) -> None:
        if self._run("check-ref-format", f"refs/heads/{branch}", check=False).returncode != 0:
            raise ProposalRefusedError(f"{branch!r} is not a valid branch name")

    def default_branch(self) -> str:
        """The branch proposals start from: the remote's HEAD branch, else main, master, else HEAD."""
        remote = self._run("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", check=False).stdout.strip()
        if remote:
            return remote
        for name in ("main", "master"):
            if self.branch_tip(name) is not None:
                return name
        return "HEAD"

    def subject(self, commit: str) -> str:
        """First line of ``commit``'s message."""
        return self._run("log", "-1", "--format=%s", self.resolve(commit)).stdout.strip()

    def _tree(self, commit: str) -> str:
        return self._run("rev-parse", f"{commit}^{{tree}}").stdout.strip()

    def current_branch(self) -> str:
        """The checked-out branch; a detached HEAD is refused."""
        proc = self._run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        if proc.returncode != 0:
            raise ProposalRefusedError(f"{self.path}: HEAD is detached; check out the branch to commit to")
        return proc.stdout.strip()

    def _blob_ids(self, commit: str, paths: Sequence[str]) -> dict[str, tuple[str, str] | None]:
        """(mode, blob id) of each path at ``commit``; ``None`` where absent."""
        out: dict[str, tuple[str, str] | None] = dict.fromkeys(paths)
        if paths:
            listing = self._run("ls-tree", "-z", commit, "--", *paths).stdout
            for entry in filter(None, listing.split("\0")):
                meta, _, name = entry.partition("\t")
                mode, _kind, oid = meta.split()
                out[name] = (mode, oid)
        return out

    def _build_tree(self, parent: str, changes: Sequence[FileChange]) -> str:
        """Tree id of ``parent`` with ``changes`` applied, built in a throw-away index."""
        paths = [normalize_path(c.path) for c in changes]
        modes = self._blob_ids(parent, paths)
        with tempfile.TemporaryDirectory(prefix="tollgate-index-") as tmp:
            index = Path(tmp) / "index"
            self._run("read-tree", parent, index=index)
            lines = []
            for path, change in zip(paths, changes, strict=True):
                blob = self._run("hash-object", "-w", "--stdin", stdin=change.content).stdout.strip()
                mode = (modes.get(path) or ("100644", ""))[0]
                lines.append(f"{mode} {blob}\t{path}\0")
            self._run("update-index", "-z", "--index-info", stdin="".join(lines), index=index)
            return self._run("write-tree", index=index).stdout.strip()

    def _commit(self, tree: str, parent: str, message: str) -> str:
        return self._run("commit-tree", tree, "-p", parent, "-F", "-", stdin=message).stdout.strip()

    def _publish(self, branch: str, new: str, old: str | None) -> None:
        self._run("update-ref", "-m", "tollgate proposal", f"refs/heads/{branch}", new, old or _ZERO)

    # -- checks for commit mode ---------------------------------------------------------------------

    def check_clean(self) -> str:
        """The current branch, after refusing a dirty tree or a branch behind or diverged from its upstream."""
        branch = self.current_branch()
        status = self._run("status", "--porcelain", "--untracked-files=no").stdout
        if status.strip():
            changed = ", ".join(line[3:] for line in status.splitlines()[:5])
            raise ProposalRefusedError(
                f"{self.path}: the working tree has uncommitted changes ({changed}); refusing to commit on {branch}",
                hint="commit or stash them, or use --propose branch (it never touches the working tree)")
        upstream = self._run("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}", check=False)
        if upstream.returncode == 0 and upstream.stdout.strip():
            counts = self._run("rev-list", "--left-right", "--count", "HEAD...@{upstream}").stdout.split()
            ahead, behind = int(counts[0]), int(counts[1])
            if behind:
                state = "diverged from" if ahead else "is behind"
                raise ProposalRefusedError(
                    f"{self.path}: branch {branch} {state} {upstream.stdout.strip()} ({ahead} ahead, {behind} behind);"
                    " refusing to commit on it", hint="pull or rebase first, or use --propose branch")
        return branch

    def _advance_checkout(self, branch: str, old: str, new: str) -> None:
        """Move ``branch`` (checked out) from ``old`` to ``new``, updating index and files that differ."""
        merged = self._run("read-tree", "-m", "-u", old, new, check=False)
        if merged.returncode != 0:
            raise ProposalRefusedError(f"{self.path}: cannot update the working tree: {merged.stderr.strip()}")
        self._publish(branch, new, old)

    # -- file proposals -----------------------------------------------------------------------------

    def propose_branch(self, branch: str, base: str, changes: Sequence[FileChange], message: str) -> Proposal:
        """Commit ``changes`` on ``branch`` (created from ``base`` if missing); the working tree is untouched.

        When the branch already holds exactly this content, nothing is written (``created=False``).
        """
        self._check_branch(branch)
        base_commit = self.resolve(base)
        tip = self.branch_tip(branch)
        parent = tip or base_commit
        tree = self._build_tree(parent, changes)
        files = tuple(sorted(normalize_path(c.path) for c in changes))
        if tree == self._tree(parent):
            return Proposal(branch, parent, False, files, message, base_commit)
        commit = self._commit(tree, parent, message)
        self._publish(branch, commit, tip)
        return Proposal(branch, commit, True, files, message, base_commit)

    def commit_current(self, changes: Sequence[FileChange], message: str, *, base: str | None = None) -> Proposal:
        """Commit ``changes`` on the checked-out branch and update its working tree.

        Refuses a dirty tree, a detached HEAD, a branch behind/diverged from its upstream, and (when
        ``base`` is given and differs from HEAD) a HEAD whose copy of a changed file differs from the
        base's, since the edit was computed against the base.
        """
        branch = self.check_clean()
        head = self.resolve("HEAD")
        files = tuple(sorted(normalize_path(c.path) for c in changes))
        if base is not None:
            base_commit = self.resolve(base)
            if base_commit != head and self._blob_ids(base_commit, files) != self._blob_ids(head, files):
                raise ProposalRefusedError(
                    f"{self.path}: {branch} has diverged from {base} in {', '.join(files)}; "
                    "the proposal was computed on the base", hint="rerun with --base HEAD")
        tree = self._build_tree(head, changes)
        if tree == self._tree(head):
            return Proposal(branch, head, False, files, message, head)
        commit = self._commit(tree, head, message)
        self._advance_checkout(branch, head, commit)
        return Proposal(branch, commit, True, files, message, head)

    # -- reverts ------------------------------------------------------------------------------------

    def find_marked(self, tip: str, marker: str, since: str | None = None) -> str | None:
        """Newest commit reachable from ``tip`` (and not from ``since``) whose message has line ``marker``."""
        rng = f"{since}..{tip}" if since else tip
        proc = self._run("log", "--format=%H", "--fixed-strings", f"--grep={marker}", rng, "--", check=False)
        return proc.stdout.split()[0] if proc.stdout.split() else None

    def _revert_tree(self, parent: str, commit: str) -> tuple[str, tuple[str, ...]]:
        """Tree of ``parent`` with ``commit`` reverted, and the files the revert touches."""
        parents = self._run("rev-list", "--parents", "-n", "1", commit).stdout.split()[1:]
        if not parents:
            raise ProposalRefusedError(f"{commit[:12]} is a root commit; there is nothing to revert to")
        tmp = Path(tempfile.mkdtemp(prefix="tollgate-revert-"))
        worktree = tmp / "wt"
        try:
            self._run("worktree", "add", "--detach", "--quiet", str(worktree), parent)
            argv = ["revert", "--no-edit", "--no-commit"] + (["-m", "1"] if len(parents) > 1 else []) + [commit]
            done = self._run(*argv, check=False, cwd=worktree)
            if done.returncode != 0:
                conflicted = self._run("diff", "--name-only", "--diff-filter=U", check=False, cwd=worktree).stdout
                files = tuple(conflicted.split())
                if not files:
                    raise ProposalRefusedError(f"cannot revert {commit[:12]}: {done.stderr.strip()}")
                raise RevertConflictError(commit, files)
            tree = self._run("write-tree", cwd=worktree).stdout.strip()
            touched = self._run("diff", "--name-only", parent, tree).stdout.split()
            return tree, tuple(sorted(touched))
        finally:
            self._run("worktree", "remove", "--force", str(worktree), check=False)
            shutil.rmtree(tmp, ignore_errors=True)
            self._run("worktree", "prune", check=False)

    def revert_branch(self, branch: str, base: str, commit: str, message: str, marker: str) -> Proposal:
        """Revert ``commit`` on top of ``base`` on ``branch``; existing ``marker`` commit there -> ``created=False``."""
        self._check_branch(branch)
        base_commit = self.resolve(base)
        target = self.resolve(commit)
        tip = self.branch_tip(branch)
        if tip is not None:
            done = self.find_marked(tip, marker, since=base_commit)
            if done is not None:
                return Proposal(branch, done, False, self._touched(done), message, base_commit)
        parent = tip or base_commit
        tree, files = self._revert_tree(parent, target)
        if tree == self._tree(parent):
            raise ProposalRefusedError(f"reverting {target[:12]} changes nothing on {base}: already reverted?")
        new = self._commit(tree, parent, message)
        self._publish(branch, new, tip)
        return Proposal(branch, new, True, files, message, base_commit)

    def revert_current(self, commit: str, message: str, marker: str) -> Proposal:
        """Revert ``commit`` on the checked-out branch (refusing a dirty or diverged one)."""
        branch = self.check_clean()
        head = self.resolve("HEAD")
        target = self.resolve(commit)
        done = self.find_marked(head, marker)
        if done is not None:
            return Proposal(branch, done, False, self._touched(done), message, head)
        tree, files = self._revert_tree(head, target)
        if tree == self._tree(head):
            raise ProposalRefusedError(f"reverting {target[:12]} changes nothing on {branch}: already reverted?")
        new = self._commit(tree, head, message)
        self._advance_checkout(branch, head, new)
        return Proposal(branch, new, True, files, message, head)

    def _touched(self, commit: str) -> tuple[str, ...]:
        out = self._run("diff-tree", "--no-commit-id", "--name-only", "-r", commit).stdout.split()
        return tuple(sorted(out))
