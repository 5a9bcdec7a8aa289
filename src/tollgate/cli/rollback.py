"""``tollgate rollback propose --repo PATH --commit SHA --decision ID [--mode branch|commit]``.

Prints what was proposed (branch, commit, created or already there, files) as text or JSON. Errors
(unknown commit, dirty tree in commit mode, conflicting revert) propagate as TollgateError, which the
CLI entry point maps to exit code 2 (or 3 when git itself is missing).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from tollgate.cli.output import emit
from tollgate.model.proposals import RollbackProposal
from tollgate.rollback import propose_rollback
from tollgate.settings import Settings

__all__ = ["rollback_app", "rollback_command", "rollback_to_dict"]


class RollbackMode(StrEnum):
    BRANCH = "branch"
    COMMIT = "commit"


def rollback_to_dict(proposal: RollbackProposal) -> dict[str, Any]:
    return {
        "decisionId": proposal.decision_id,
        "reverted": proposal.reverted,
        "branch": proposal.branch,
        "commit": proposal.commit,
        "status": proposal.status,
        "created": proposal.created,
        "files": list(proposal.files),
        "baseCommit": proposal.base_commit,
    }


def rollback_command(
    commit: Annotated[str, typer.Option("--commit", help="The commit that started the failed rollout.")],
    decision: Annotated[str, typer.Option("--decision", help="Id of the failing decision (names the branch).")],
    repo: Annotated[Path | None, typer.Option("--repo", help="The GitOps repository (default: settings).")] = None,
    mode: Annotated[RollbackMode, typer.Option("--mode", help="branch (default) or commit.")] = RollbackMode.BRANCH,
    base: Annotated[str | None, typer.Option("--base", help="Branch to revert on (default: the default branch).")]
    = None,
    evidence: Annotated[str, typer.Option("--evidence", help="Why: goes into the commit message.")] = "",
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> None:
    """Propose reverting COMMIT in Git because decision ID failed (idempotent)."""
    settings = Settings()
    path = repo or settings.rollback.repo or Path(".")
    base = base or settings.rollback.base
    text = evidence or f"see `tollgate explain {decision}`"
    proposal = propose_rollback(path, commit=commit, decision_id=decision, evidence=text, mode=mode.value, base=base)
    assert proposal is not None  # mode is never "off" here
    if fmt == "json":
        emit(json.dumps(rollback_to_dict(proposal), indent=2) + "\n")
        return
    verb = "proposed" if proposal.created else "already proposed"
    emit(f"{verb}: revert of {proposal.reverted[:12]} on {proposal.branch} as {proposal.commit[:12]} "
         f"({', '.join(proposal.files)})\n")


#: ``tollgate rollback`` sub-app; the lead registers it (``app.add_typer(rollback_app, name="rollback")``).
rollback_app = typer.Typer(help="Rollbacks of failed rollouts, proposed in Git.", no_args_is_help=True)
rollback_app.command("propose")(rollback_command)
