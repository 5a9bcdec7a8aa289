"""``tollgate demo``: a sample GitOps repo, four realistic commits, a review of each.

The sample app ships inside the package (``tollgate/demo_app``): a Kustomize base with staging and
production overlays, a Helm chart with per-environment values, a raw-YAML DaemonSet and a Terraform
file. Each step of ``steps.yaml`` becomes one commit, reviewed against its parent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from rich.rule import Rule

from tollgate.cli.output import emit, err_console
from tollgate.engine import Engine
from tollgate.errors import DependencyError, ToolNotFoundError
from tollgate.ledger.store import Ledger
from tollgate.render import FORMATTERS
from tollgate.settings import Settings

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "tollgate demo",
    "GIT_AUTHOR_EMAIL": "demo@tollgate.dev",
    "GIT_COMMITTER_NAME": "tollgate demo",
    "GIT_COMMITTER_EMAIL": "demo@tollgate.dev",
}


def _git(repo: Path, *args: str) -> str:
    if shutil.which("git") is None:
        raise ToolNotFoundError("git is not on PATH", hint="install git (Debian: apt-get install git)")
    env = {**os.environ, **_GIT_ENV}
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DependencyError(f"git {' '.join(args)} failed in {repo}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _copy_tree(src: Any, dest: Path) -> None:
    """Copy a package resource directory (a Traversable) to disk."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in src.iterdir():
        target = dest / entry.name
        if entry.is_dir():
            _copy_tree(entry, target)
        else:
            target.write_bytes(entry.read_bytes())


def build_demo_repo(root: Path) -> list[tuple[str, str]]:
    """Create the demo repo in ``root``; returns (commit, message) for each step after the initial commit."""
    app_dir = resources.files("tollgate").joinpath("demo_app")
    _copy_tree(app_dir.joinpath("base"), root)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Initial shop platform: shop (staging, production), payments, logging, infra")
    steps = yaml.safe_load(app_dir.joinpath("steps.yaml").read_text(encoding="utf-8"))
    commits: list[tuple[str, str]] = []
    for step in steps:
        for rel, content in step["files"].items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", step["message"])
        commits.append((_git(root, "rev-parse", "HEAD"), step["message"]))
    return commits


def run_demo(settings: Settings, *, keep: Path | None, fmt: str) -> list[str]:
    """Build the repo, review each commit against its parent, print the results; returns decision ids."""
    workdir = Path(tempfile.mkdtemp(prefix="tollgate-demo-")) if keep is None else keep
    if keep is not None and keep.exists() and any(keep.iterdir()):
        from tollgate.errors import InputError

        raise InputError(f"{keep}: directory is not empty; give a new or empty directory to --keep")
    repo = workdir / "gitops" if keep is None else keep
    repo.mkdir(parents=True, exist_ok=True)
    try:
        commits = build_demo_repo(repo)
        url = settings.resolved_ledger_url()
        engine = Engine(settings, ledger_factory=lambda: Ledger(url))
        err_console.print(f"demo repo: {repo}  ledger: {url}")
        ids: list[str] = []
        for commit, message in commits:
            err_console.print(Rule(message))
            parent = _git(repo, "rev-parse", "--short", f"{commit}~1")
            result = engine.review(repo, parent, _git(repo, "rev-parse", "--short", commit))
            emit(FORMATTERS[fmt](result))
            ids.append(result.decision.id)
        err_console.print(Rule("ledger"))
        for (_, message), decision_id in zip(commits, ids, strict=True):
            emit(f"{decision_id}  {message}\n")
        emit("\nShow one with: tollgate explain <id>    Check the chain: tollgate ledger verify\n")
        return ids
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
